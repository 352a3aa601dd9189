# plots/lines.gp — one line per series: column 1 is x, columns 2.. are the series.
load "common.gp"
plot for [i=1:nseries] datafile skip 1 using 1:i+1 with linespoints title names[i]
