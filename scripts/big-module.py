#!/usr/bin/env python3
# big-module.py N - C source of a large wasm32 module for `tally bench compile` (docs/benchmarks.md
# "tally bench compile"): hash, insertion sort, a float loop and a switch, N times over, each
# function kept apart (noinline), and an exported run() calling them all. N = 1880 with clang -O1
# gives a 1.05 MB module.
import sys
n = int(sys.argv[1])
out = ["typedef unsigned int u32; typedef unsigned long long u64;",
       "static u32 buf[4096]; static double fb[256];"]
for i in range(n):
    out.append(f"""
__attribute__((noinline)) static u64 hash{i}(u64 seed, u32 n) {{
    u64 h = 0xcbf29ce484222325ull ^ seed ^ {i}u;
    for (u32 k = 0; k < n; k++) {{ h ^= buf[(k * {2*i+1}u) & 4095]; h *= 0x100000001b3ull; h ^= h >> {(i % 29) + 3}; }}
    return h;
}}
__attribute__((noinline)) static void sort{i}(u32 *s, int n) {{
    for (int a = 1; a < n; a++) {{ u32 x = s[a] ^ {i}u; int j = a - 1;
        while (j >= 0 && s[j] > x) {{ s[j + 1] = s[j]; j--; }} s[j + 1] = x; }}
}}
__attribute__((noinline)) static double mat{i}(int n) {{
    double acc = {i}.5;
    for (int r = 0; r < n; r++) for (int c = 0; c < n; c++) {{
        double x = fb[(r * 16 + c) & 255] * {i % 7 + 1}.25 - acc / (c + 1);
        acc += x > 0 ? x : -x; if (acc > 1e9) acc = acc / 3.0; }}
    return acc;
}}
__attribute__((noinline)) static u32 mix{i}(u32 a, u32 b, u32 c) {{
    switch ((a ^ b) % 7) {{
    case 0: return a * {i + 3}u + (b >> 3) - c;
    case 1: return (a << 5) ^ (b * 2654435761u) ^ c;
    case 2: return a / (b | 1) + c % ({i}u + 7);
    case 3: return (a | b) & ~c;
    case 4: return a + b + c + {i}u;
    case 5: return (a >> (b & 31)) | (c << 1);
    default: return a - b - c;
    }}
}}""")
out.append("__attribute__((export_name(\"run\"))) u64 run(void) { u64 t = 0;")
for i in range(n):
    out.append(f"t += hash{i}(t, 64); sort{i}(buf + {(i*17) % 4000}, 32); t += (u64)mat{i}(4); t += mix{i}((u32)t, {i}u, (u32)(t >> 32));")
out.append("return t; }")
print("\n".join(out))
