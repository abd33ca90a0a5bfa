/* probe.c - configure-time probe (tests/canisters/meson.build): if clang can compile and link
 * this to a wasm32 module, it can build the example canisters and the benchmark programs. */
__attribute__((export_name("probe"))) int probe(void);

int probe(void)
{
    return 1;
}
