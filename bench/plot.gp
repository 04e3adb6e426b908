# bench/plot.gp: docs/benchmarks.png from a bench/run directory
#   gnuplot -e "dir='bench/out/latest'; out='docs/benchmarks.png'" bench/plot.gp

if (!exists("dir")) dir = 'bench/out/latest'
if (!exists("out")) out = 'docs/benchmarks.png'

set terminal pngcairo size 1400,1000 font "Sans,10"
set output out

set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key top left font ",9" noenhanced
set grid ytics
set xtics nomirror
set ytics nomirror
set logscale y

n = int(system("wc -w < " . dir . "/servers.txt"))

set multiplot layout 2,2 title "noom and its peers, same machine, same run (servers on CPU 0, load generator on CPU 1)"

set title "Deliveries per second at saturation (closed loop)"
set xlabel "members per room"
set ylabel "deliveries/s"
plot for [i=2:n+1] dir."/sat.dat" using i:xtic(1) title columnheader(i)

set title "p99 latency at 50% of the slowest server's saturation"
set ylabel "µs"
plot for [i=2:n+1] dir."/p99.dat" using i:xtic(1) title columnheader(i)

set title "Server CPU seconds per 100k deliveries at saturation"
set ylabel "CPU s"
set key top right
plot for [i=2:n+1] dir."/cpusat.dat" using i:xtic(1) title columnheader(i)

set title "Memory per idle connection (RSS delta / connections)"
set xlabel ""
set ylabel "bytes"
unset logscale y
set yrange [0:*]
set style histogram clustered gap 1
set key off
plot dir."/mem.dat" using 2:xtic(1) title "RSS" lc rgb "#4477aa"

unset multiplot
