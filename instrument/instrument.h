/* instrument.h - the metering pass (the Internet Computer's instruction-counting algorithm) and
 * the Wasm binary writer it is built on.
 *
 * instrument_module() turns a validated module into a new, valid binary module that counts its
 * own instructions (docs/decisions.md "instrument"; the IC spec section 1):
 *   - imports `__tally` `out_of_instructions` : [] -> [] as function 0 (every other function
 *     index shifts by one: calls, ref.func, exports, elements, start, global inits, names);
 *   - adds a mutable i64 global, the counter, exported as `__tally_counter`; the embedder sets it
 *     to the instructions allowed before a call and reads what is left afterwards;
 *   - at each function entry and loop header subtracts the cost of that basic block and then
 *     `if counter < 0 then call out_of_instructions`; at the start of every other basic block
 *     (after if, else, end, br, br_if, br_table, return, unreachable) subtracts the block's cost
 *     without a check; `block`, `call` and `call_indirect` start no block; each function entry
 *     costs 1 more; zero-cost points are dropped except at function entries and loop headers;
 *   - before memory.fill/copy/init and table.fill/copy/init charges the size operand through an
 *     appended helper function (1 per byte or element), which also checks the counter;
 *   - from schedule v2 on, a function's entry also charges for its declared locals
 *     (instrument_locals_cost), and before memory.grow charges its delta operand times
 *     instrument_grow_page_cost(schedule) through a second appended helper (only in modules
 *     with a memory); schedule v1 charges memory.grow its weight only, as the IC does;
 *   - records the weight schedule in a custom section `tally.metering` (u32 LEB schedule).
 * Nothing else changes: same results, same traps. The weights come from engine/opcodes.def. */
#ifndef TALLY_INSTRUMENT_H
#define TALLY_INSTRUMENT_H

#include "engine.h"

#define INSTRUMENT_IMPORT_MODULE "__tally"
#define INSTRUMENT_IMPORT_NAME "out_of_instructions"
#define INSTRUMENT_COUNTER_EXPORT "__tally_counter"
#define INSTRUMENT_CUSTOM_SECTION "tally.metering"

/* Instruments the validated module m with weight schedule `schedule` (ENGINE_SCHEDULE_*) and
 * appends the new binary to *out. Returns ST_OK; ST_RESERVED_NAME if m already imports from
 * `__tally`, exports `__tally_counter` or has a `tally.metering` section (so instrumenting twice
 * is rejected); ST_UNKNOWN_SCHEDULE; ST_LIMIT_EXCEEDED if an index would overflow; or
 * ST_OUT_OF_MEMORY (then *out holds its old length again). err may be NULL. */
status instrument_module(const engine_module *m, int schedule, buf *out, engine_error *err);

/* The schedule recorded in an instrumented module's `tally.metering` section, or 0 if m was
 * not instrumented by tally. */
int instrument_schedule_of(const engine_module *m);

/* Instructions charged per 64 KiB page that a memory.grow asks for (its delta operand, counted
 * up to 65536 pages, charged before the grow, also when the grow then fails), on top of
 * memory.grow's weight: 0 for schedule v1 (the IC's rule) and for unknown schedules, 5000 for
 * v2 (docs/weights.md). */
uint64_t instrument_grow_page_cost(int schedule);

/* Instructions a function's entry charges for zeroing its declared locals (params excluded), on
 * top of the entry's 1: 0 for schedule v1 (the IC's rule), one per 4 locals (rounded up) for v2
 * (docs/weights.md, "Code shapes": a function with 49,999 locals called in a loop ran at a
 * thousandth of the plain rate). */
uint64_t instrument_locals_cost(int schedule, uint32_t nlocals);

/* ---- Wasm binary writer (writer.c): used by the instrumenter and by tests ------------------ */

/* Each returns ST_OK or ST_OUT_OF_MEMORY. */
status writer_header(buf *b);                            /* magic + version 1 */
status writer_section(buf *b, uint8_t id, span content); /* id, size, content */
status writer_name(buf *b, span name);                   /* vec(byte) */
status writer_functype(buf *b, const functype *t);
status writer_limits(buf *b, const limits *l);
/* An import entry (module, name, description) from the decoded form. */
status writer_import(buf *b, const import *im);
/* A function body: local declarations (run-length encoded from types[n]) + code bytes; the
 * whole entry is written with its size prefix. */
status writer_code_entry(buf *b, const uint8_t *local_types, uint32_t nlocals, span code);

#endif
