// tools/cli_stub.c — placeholders until the model commands land (removed then).
#include <stdio.h>
#include "cli.h"
#define STUB(name) int qins_cli_##name(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "qins: " #name ": not built yet\n"); return 1; }
STUB(info) STUB(generate) STUB(perplexity) STUB(bench)
