/* bench_report.c - the output of `tally bench weights` (bench_weights.c): text tables, JSON, a
 * plain-SVG scatter plot (weight vs ns per instruction) and the candidate weight column for a
 * new schedule version. Formats are described in docs/weights.md. */
#include "bench_gen.h"
#include "bench.h"

#include <math.h>
#include <string.h>

/* ---- text ----------------------------------------------------------------------------------- */

static void text_ops(const bench_report *r, FILE *out)
{
    fprintf(out, "%-21s %8s %8s %7s %6s %6s %7s %7s %4s  %s\n", "opcode", "ns/instr", "median",
            "charged", "weight", "charge", "suggest", "ns/unit", "flag", "method: note");
    for (int op = 0; op < OP_COUNT; op++) {
        const bench_op_row *w = &r->ops[op];
        if (!w->measured)
            continue;
        char ratio[16] = "-";
        if (!isnan(w->ratio))
            snprintf(ratio, sizeof ratio, "%.3f", w->ratio);
        fprintf(out, "%-21s %8.3f %8.3f %7.2f %6u %6u %7u %7s %4s  %s%s: %s\n",
                engine_opcodes[op].text, w->ns, w->ns_median, w->units, w->weight, w->charge,
                w->suggested, ratio, w->flagged ? "!!" : "", w->confirmed ? "" : "[OPTIMIZED?] ",
                w->method, w->note ? w->note : "");
    }
    bool header = false;
    for (int op = 0; op < OP_COUNT; op++) {
        const bench_op_row *w = &r->ops[op];
        if (!w->measured && !(r->filter && w->note && !strcmp(w->note, "filtered out"))) {
            if (!header)
                fprintf(out, "\nnot benchmarked (failed):\n");
            header = true;
            fprintf(out, "  %-20s %s\n", engine_opcodes[op].text, w->note ? w->note : "");
        }
    }
}

static void text_bulk(const bench_report *r, FILE *out)
{
    if (!r->bulk_done)
        return;
    fprintf(out,
            "\nbulk memory per byte and memory.grow per page (charged: the weight + a charge per "
            "unit; fit ns = fixed + per-unit x size)\n");
    fprintf(out, "%-12s %5s %8s %11s %11s %11s %10s %10s %9s %9s %8s %4s\n", "opcode", "unit",
            "sizes", "ns (1st)", "ns (2nd)", "ns (3rd)", "fixed ns", "ns/unit", "fixed u",
            "units/unit", "charged", "flag");
    for (int i = 0; i < BENCH_BULK_ROWS; i++) {
        const bench_bulk_row *b = &r->bulk[i];
        if (!b->sizes[0])
            continue;
        char sizes[32];
        snprintf(sizes, sizeof sizes, "%u/%u/%u", b->sizes[0], b->sizes[1], b->sizes[2]);
        fprintf(out, "%-12s %5s %8s %11.1f %11.1f %11.1f %10.1f %10.4f %9.1f %9.4f %8llu %4s\n",
                engine_opcodes[b->op].text, b->unit, sizes, b->ns[0], b->ns[1], b->ns[2],
                b->fixed_ns, b->byte_ns, b->fixed_suggested, b->byte_suggested,
                (unsigned long long)b->unit_charge, b->flagged ? "!!" : "");
    }
}

static const char *const host_methods[] = {"loop", "message", "trapping message",
                                           "refused deploy"};

static void text_host(const bench_report *r, FILE *out)
{
    if (!r->nhost)
        return;
    fprintf(out, "\nic0 host functions (units = reference instructions; charged includes the "
                 "call instruction and its arguments)\n");
    fprintf(out, "(ns/call: per call in a loop; for the methods `message` and `trapping message`, "
                 "per message more than an empty one; `refused deploy`: per refused deploy)\n");
    fprintf(out, "%-27s %-16s %9s %8s %5s %8s %6s %8s %5s %9s %4s  %s\n", "function", "method",
            "ns/call", "charged", "base", "suggest", "bytes", "ns/byte", "/byte", "sugg/byte",
            "flag", "note");
    for (uint32_t i = 0; i < r->nhost; i++) {
        const bench_host_row *h = &r->host[i];
        const char *m = host_methods[h->method];
        if (!h->measured) {
            fprintf(out, "%-27s %-16s %9s %8s %5u %8s %6s %8s %5u %9s %4s  %s\n", h->name, m, "-",
                    "-", h->base_cost, "-", "-", "-", h->byte_cost, "-", "",
                    h->note ? h->note : "");
            continue;
        }
        if (h->method == BENCH_HOST_REFUSED) {
            fprintf(out, "%-27s %-16s %9.1f %8s %5u %8s %6s %8s %5u %9s %4s  %s (%s)\n", h->name,
                    m, h->ns_call, "-", h->base_cost, "-", "-", "-", h->byte_cost, "-", "",
                    h->note ? h->note : "", h->outcome);
            continue;
        }
        char sugg[16] = "-";
        if (!isnan(h->base_suggested))
            snprintf(sugg, sizeof sugg, "%.0f", h->base_suggested);
        fprintf(out, "%-27s %-16s %9.1f %8.1f %5u %8s", h->name, m, h->ns_call, h->units_call,
                h->base_cost, sugg);
        if (h->sample_bytes)
            fprintf(out, " %6u %8.4f %5u %9.3f", h->sample_bytes, h->ns_byte, h->byte_cost,
                    h->byte_suggested);
        else
            fprintf(out, " %6s %8s %5u %9s", "-", "-", h->byte_cost, "-");
        if (h->method == BENCH_HOST_LOOP)
            fprintf(out, " %4s  %s\n", h->flagged ? "!!" : "", h->note ? h->note : "");
        else
            fprintf(out, " %4s  %s (outcome %s; the whole message: %.0f ns)\n",
                    h->flagged ? "!!" : "", h->note ? h->note : "", h->outcome, h->ns_message);
    }
}

void bench_report_text(const bench_report *r, FILE *out)
{
    fprintf(out, "tally bench weights: schedule v%d, %u runs per module%s, %s, %s\n", r->schedule,
            r->runs, r->quick ? " (--quick: too noisy for weights)" : "", r->machine, r->date);
    fprintf(out,
            "reference: 1 unit = %.3f ns (median of i32/i64 add sub and or xor, local.get, "
            "local.set, local.tee)\n",
            r->reference_ns);
    fprintf(out,
            "median ns per charged unit (ns / charge): %.3f; !! = more than 2x that "
            "(under-charged)\n",
            r->median_ratio);
    fprintf(out, "charged = units per snippet from the counter (operand local.gets included); "
                 "charge = weight + dynamic part\n\n");
    text_ops(r, out);
    text_bulk(r, out);
    text_host(r, out);
    if (r->deploy_modules)
        fprintf(out,
                "\ndeploy (decode, validate, instrument, compile): %u modules, %llu bytes, "
                "%.1f ns/byte = %.1f units/byte\n",
                r->deploy_modules, (unsigned long long)r->deploy_bytes, r->deploy_ns_per_byte,
                r->deploy_ns_per_byte / r->reference_ns);
    fprintf(out, "\ntotal time: %.1f s\n", r->seconds);
}

/* ---- JSON ------------------------------------------------------------------------------------ */

static void jnum(FILE *out, const char *key, double v, bool comma)
{
    if (isnan(v) || isinf(v))
        fprintf(out, "\"%s\": null%s", key, comma ? ", " : "");
    else
        fprintf(out, "\"%s\": %.6g%s", key, v, comma ? ", " : "");
}

/* Our strings are ASCII without quotes or backslashes; escape them anyway. */
static void jstr(FILE *out, const char *key, const char *s, bool comma)
{
    fprintf(out, "\"%s\": ", key);
    if (!s) {
        fprintf(out, "null%s", comma ? ", " : "");
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', out);
        if ((unsigned char)*s >= 0x20)
            fputc(*s, out);
    }
    fprintf(out, "\"%s", comma ? ", " : "");
}

static void json_ops(const bench_report *r, FILE *out)
{
    fprintf(out, "  \"opcodes\": [\n");
    bool first = true;
    for (int op = 0; op < OP_COUNT; op++) {
        const bench_op_row *w = &r->ops[op];
        if (r->filter && !w->measured)
            continue;
        fprintf(out, "%s    {", first ? "" : ",\n");
        first = false;
        jstr(out, "name", engine_opcodes[op].text, true);
        fprintf(out, "\"measured\": %s, \"weight\": %u, ", w->measured ? "true" : "false",
                w->weight);
        jstr(out, "method", w->method, true);
        if (w->measured) {
            jnum(out, "ns", w->ns, true);
            jnum(out, "ns_median", w->ns_median, true);
            jnum(out, "charged_per_snippet", w->units, true);
            fprintf(out, "\"charge\": %u, ", w->charge);
            fprintf(out, "\"suggested\": %u, ", w->suggested);
            jnum(out, "ns_per_unit", w->ratio, true);
            fprintf(out, "\"confirmed\": %s, \"flagged\": %s, \"once\": %s, ",
                    w->confirmed ? "true" : "false", w->flagged ? "true" : "false",
                    w->once ? "true" : "false");
        }
        jstr(out, "note", w->note, false);
        fputc('}', out);
    }
    fprintf(out, "\n  ],\n");
}

static void json_bulk(const bench_report *r, FILE *out)
{
    fprintf(out, "  \"bulk\": [");
    bool first = true;
    for (int i = 0; i < BENCH_BULK_ROWS && r->bulk_done; i++) {
        const bench_bulk_row *b = &r->bulk[i];
        if (!b->sizes[0])
            continue;
        fprintf(out, "%s\n    {", first ? "" : ",");
        first = false;
        jstr(out, "name", engine_opcodes[b->op].text, true);
        jstr(out, "unit", b->unit, true);
        fprintf(out, "\"weight\": %u, \"charge_per_unit\": %llu, ", b->weight,
                (unsigned long long)b->unit_charge);
        fprintf(out, "\"sizes\": [%u, %u, %u], \"ns\": [%.6g, %.6g, %.6g], ", b->sizes[0],
                b->sizes[1], b->sizes[2], b->ns[0], b->ns[1], b->ns[2]);
        fprintf(out, "\"charged\": [%.6g, %.6g, %.6g], ", b->units[0], b->units[1], b->units[2]);
        jnum(out, "fixed_ns", b->fixed_ns, true);
        jnum(out, "ns_per_unit", b->byte_ns, true);
        jnum(out, "fixed_suggested", b->fixed_suggested, true);
        jnum(out, "per_unit_suggested", b->byte_suggested, true);
        fprintf(out, "\"flagged\": %s}", b->flagged ? "true" : "false");
    }
    fprintf(out, "\n  ],\n");
}

static void json_host(const bench_report *r, FILE *out)
{
    fprintf(out, "  \"host\": [");
    for (uint32_t i = 0; i < r->nhost; i++) {
        const bench_host_row *h = &r->host[i];
        fprintf(out, "%s\n    {", i ? "," : "");
        jstr(out, "name", h->name, true);
        fprintf(out, "\"measured\": %s, \"base_cost\": %u, \"per_byte_cost\": %u, ",
                h->measured ? "true" : "false", h->base_cost, h->byte_cost);
        jstr(out, "method", host_methods[h->method], true);
        if (h->measured) {
            jstr(out, "outcome", h->outcome, true);
            jnum(out, "ns", h->ns_call, true);
            jnum(out, "ns_per_call", h->method == BENCH_HOST_LOOP ? h->ns_call : NAN, true);
            if (h->method == BENCH_HOST_MESSAGE || h->method == BENCH_HOST_TRAPPING)
                jnum(out, "ns_message", h->ns_message, true);
            jnum(out, "charged_per_call", h->units_call, true);
            jnum(out, "base_suggested", h->base_suggested, true);
            fprintf(out, "\"sample_bytes\": %u, ", h->sample_bytes);
            jnum(out, "ns_per_byte", h->sample_bytes ? h->ns_byte : NAN, true);
            jnum(out, "per_byte_suggested", h->sample_bytes ? h->byte_suggested : NAN, true);
            fprintf(out, "\"flagged\": %s, ", h->flagged ? "true" : "false");
        }
        jstr(out, "note", h->note, false);
        fputc('}', out);
    }
    fprintf(out, "\n  ]\n");
}

void bench_report_json(const bench_report *r, FILE *out)
{
    fprintf(out, "{\n  \"schedule\": %d, \"runs\": %u, \"quick\": %s, ", r->schedule, r->runs,
            r->quick ? "true" : "false");
    jstr(out, "machine", r->machine, true);
    jstr(out, "date", r->date, true);
    jnum(out, "seconds", r->seconds, true);
    jnum(out, "reference_ns", r->reference_ns, true);
    jnum(out, "median_ns_per_unit", r->median_ratio, true);
    fprintf(out, "\"deploy_modules\": %u, \"deploy_bytes\": %llu, ", r->deploy_modules,
            (unsigned long long)r->deploy_bytes);
    jnum(out, "deploy_ns_per_byte", r->deploy_ns_per_byte, true);
    jnum(out, "deploy_units_per_byte", r->deploy_ns_per_byte / r->reference_ns, false);
    fprintf(out, ",\n");
    json_ops(r, out);
    json_bulk(r, out);
    json_host(r, out);
    fprintf(out, "}\n");
}

/* ---- SVG ------------------------------------------------------------------------------------- */

enum { SVG_W = 900, SVG_H = 620, SVG_L = 70, SVG_R = 30, SVG_T = 40, SVG_B = 60 };
#define SVG_XMAX 3.0  /* log10(weight + 1) up to 1000 */
#define SVG_YMIN -1.0 /* log10(ns) from 0.1 ... */
#define SVG_YMAX 4.0  /* ... to 10 us */

static double svg_x(double weight)
{
    return SVG_L + log10(weight + 1) / SVG_XMAX * (SVG_W - SVG_L - SVG_R);
}

static double svg_y(double ns)
{
    double l = log10(ns < 0.1 ? 0.1 : ns);
    if (l > SVG_YMAX)
        l = SVG_YMAX;
    return SVG_H - SVG_B - (l - SVG_YMIN) / (SVG_YMAX - SVG_YMIN) * (SVG_H - SVG_T - SVG_B);
}

static void svg_axes(const bench_report *r, FILE *f)
{
    static const int wt[] = {0, 1, 2, 5, 10, 20, 50, 100, 300, 1000};
    static const double nt[] = {0.1, 1, 10, 100, 1000, 10000};
    fprintf(f, "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='black'/>\n", SVG_L, SVG_H - SVG_B,
            SVG_W - SVG_R, SVG_H - SVG_B);
    fprintf(f, "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='black'/>\n", SVG_L, SVG_T, SVG_L,
            SVG_H - SVG_B);
    for (size_t i = 0; i < BASE_ARRAY_LEN(wt); i++)
        fprintf(f, "<text x='%.1f' y='%d' font-size='11' text-anchor='middle'>%d</text>\n",
                svg_x(wt[i]), SVG_H - SVG_B + 16, wt[i]);
    for (size_t i = 0; i < BASE_ARRAY_LEN(nt); i++)
        fprintf(f, "<text x='%d' y='%.1f' font-size='11' text-anchor='end'>%g</text>\n", SVG_L - 6,
                svg_y(nt[i]) + 4, nt[i]);
    fprintf(f,
            "<text x='%d' y='%d' font-size='13' text-anchor='middle'>weight (schedule v%d, "
            "log scale)</text>\n",
            (SVG_W + SVG_L) / 2, SVG_H - 18, r->schedule);
    fprintf(f,
            "<text x='16' y='%d' font-size='13' transform='rotate(-90 16 %d)' "
            "text-anchor='middle'>ns per instruction (log)</text>\n",
            SVG_H / 2, SVG_H / 2);
    fprintf(f, "<text x='%d' y='24' font-size='14'>tally bench weights: %s, %s</text>\n", SVG_L,
            r->machine, r->date);
    /* the "fair" line: ns = median ns per charged unit x weight */
    fprintf(f, "<polyline fill='none' stroke='#999' stroke-dasharray='4 3' points='");
    for (double w = 0.5; w <= 1000; w *= 1.5)
        fprintf(f, "%.1f,%.1f ", svg_x(w), svg_y(w * r->median_ratio));
    fprintf(f, "'/>\n");
}

status bench_report_svg(const bench_report *r, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return ST_IO_ERROR;
    fprintf(f,
            "<?xml version='1.0' encoding='UTF-8'?>\n<svg xmlns='http://www.w3.org/2000/svg' "
            "width='%d' height='%d' font-family='sans-serif'>\n<rect width='100%%' "
            "height='100%%' fill='white'/>\n",
            SVG_W, SVG_H);
    svg_axes(r, f);
    for (int op = 0; op < OP_COUNT; op++) {
        const bench_op_row *w = &r->ops[op];
        if (!w->measured)
            continue;
        double x = svg_x(w->weight), y = svg_y(w->ns);
        fprintf(f,
                "<circle cx='%.1f' cy='%.1f' r='3' fill='%s'><title>%s: %.3f ns, weight %u"
                "</title></circle>\n",
                x, y, w->flagged ? "#d22" : "#36c", engine_opcodes[op].text, w->ns, w->weight);
        if (w->flagged)
            fprintf(f, "<text x='%.1f' y='%.1f' font-size='10' fill='#d22'>%s</text>\n", x + 5,
                    y - 4, engine_opcodes[op].text);
    }
    fprintf(f, "</svg>\n");
    return fclose(f) == 0 ? ST_OK : ST_IO_ERROR;
}

/* ---- candidate schedule -------------------------------------------------------------------------- */

status bench_report_def(const bench_report *r, const char *path)
{
    const char *base = strrchr(path, '/');
    if (!strcmp(base ? base + 1 : path, "opcodes.def"))
        return ST_IO_ERROR; /* a candidate schedule never overwrites the instruction table */
    FILE *f = fopen(path, "w");
    if (!f)
        return ST_IO_ERROR;
    fprintf(
        f,
        "# candidate weight column for schedule v%d, from `tally bench weights` (measured "
        "against schedule v%d)\n# %s, %s; 1 unit = %.3f ns\n# NAME weight   (opcodes.def C names; "
        "unmeasured opcodes keep their weight)\n",
        ENGINE_SCHEDULE_MAX + 1, r->schedule, r->machine, r->date, r->reference_ns);
    for (int i = 0; i < BENCH_BULK_ROWS && r->bulk_done; i++)
        if (r->bulk[i].sizes[0] && r->bulk[i].op == OP_MEMORY_GROW)
            fprintf(f,
                    "# memory.grow per page: %.0f suggested (measured against %llu charged); a "
                    "dynamic charge, instrument_grow_page_cost(), not a column\n",
                    r->bulk[i].byte_suggested, (unsigned long long)r->bulk[i].unit_charge);
    for (int op = 0; op < OP_COUNT; op++) {
        const bench_op_row *w = &r->ops[op];
        fprintf(f, "%s %u%s\n", engine_opcodes[op].cname, w->measured ? w->suggested : w->weight,
                w->measured ? "" : "   # not measured");
    }
    return fclose(f) == 0 ? ST_OK : ST_IO_ERROR;
}
