// tools/cli.h — the `qins` front-end's subcommands. Each lives in tools/cli_<name>.c and
// returns the process exit status (0 ok, 1 failure, 2 usage error); it prints one-line errors.
#pragma once

int qins_cli_info(int argc, char **argv);
int qins_cli_tokenize(int argc, char **argv);
int qins_cli_generate(int argc, char **argv);
int qins_cli_perplexity(int argc, char **argv);
int qins_cli_bench(int argc, char **argv);
int qins_cli_profile(int argc, char **argv);
int qins_cli_sgemm(int argc, char **argv);
int qins_cli_write_gguf(int argc, char **argv);
int qins_cli_prompts(int argc, char **argv);
int qins_cli_runs(int argc, char **argv);
int qins_cli_report(int argc, char **argv);
int qins_cli_reproduce(int argc, char **argv);
int qins_cli_config(int argc, char **argv);
int qins_cli_run_all(int argc, char **argv);
