# plots/common.gp — shared settings, loaded first by every kind script.
# The driver that `qins report` writes beside each CSV defines: datafile, outfile, plottitle,
# xlab, ylab, nseries, logx, logy (0/1), array names[nseries] (legend) and, for bars,
# array cats[n] (category labels). Series names come from arrays, not from the CSV header,
# because gnuplot splits quoted CSV fields that hold commas; the header row is skipped.
if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
    set terminal pngcairo size 900,540 noenhanced font "sans,10"
} else {
    set terminal png size 900,540 noenhanced
}
set output outfile
set datafile separator comma
set title plottitle
set xlabel xlab
set ylabel ylab
set grid
set key outside right top
if (logx) { set logscale x }
if (logy) { set logscale y }
