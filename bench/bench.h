/* bench.h - tally's benchmarks as a library: what `tally bench` runs (docs/benchmarks.md,
 * docs/weights.md). Each entry takes the command's arguments (argv[0] is "bench" or the
 * benchmark's name), prints its report on stdout and returns the exit status: 0, 1 when a
 * module is missing, fails or engines disagree, 2 on bad usage. Nothing here is a test: `meson
 * test` only checks that the reports come out (tests/cli). */
#ifndef TALLY_BENCH_H
#define TALLY_BENCH_H

#include "base.h"

/* `tally bench interp|instantiate|meter|host|weights|shapes [options]` (bench.c): argv[1] names the
 * benchmark; --help prints the usage. */
int bench_main(int argc, char **argv);

/* `tally bench weights [options]` (bench_weights.c): opcode, bulk-memory and ic0 timings
 * against a weight schedule; argv[0] is "weights". */
int bench_weights(int argc, char **argv);

/* `tally bench shapes [options]` (bench_shapes.c): generated worst cases for the metering
 * against plain code (docs/weights.md, "Code shapes"); argv[0] is "shapes". */
int bench_shapes(int argc, char **argv);

/* True if argv has --help or -h. */
bool bench_wants_help(int argc, char **argv);

#endif
