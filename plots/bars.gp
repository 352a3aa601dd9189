# plots/bars.gp — clustered bars: column 1 is the category index, columns 2.. are the series;
# category labels come from the array cats.
load "common.gp"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -30
if (!logy) { set yrange [0:*] }
plot for [i=1:nseries] datafile skip 1 using i+1:xtic(cats[int($0)+1]) title names[i]
