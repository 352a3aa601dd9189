# plots/points.gp — one point cloud per series: column 1 is x, columns 2.. are the series.
load "common.gp"
plot for [i=1:nseries] datafile skip 1 using 1:i+1 with points pointsize 1.2 title names[i]
