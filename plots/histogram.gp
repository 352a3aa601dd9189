# plots/histogram.gp — counts per bin: column 1 is the bin centre, columns 2.. are the series
# (translucent boxes, so overlapping distributions stay visible).
load "common.gp"
set style fill transparent solid 0.45 noborder
if (!logy) { set yrange [0:*] }
plot for [i=1:nseries] datafile skip 1 using 1:i+1 with boxes title names[i]
