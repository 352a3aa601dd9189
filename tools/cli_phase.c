// tools/cli_phase.c — see cli_phase.h.
#include "cli_phase.h"

#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runfile.h"

static void phase_bin(int phase, char *bin, size_t cap) {
    char self[PATH_MAX];
    const ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) snprintf(self, sizeof self, "."); // no /proc: look in the current directory
    else self[len] = 0;
    snprintf(bin, cap, "%s/qins-phase%d", dirname(self), phase);
}

int cli_phase_built(int phase) {
    char bin[PATH_MAX + 32];
    phase_bin(phase, bin, sizeof bin);
    return access(bin, X_OK) == 0;
}

static bool contains(const struct qins_run_meta *v, size_t n, const char *id) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i].run_id, id)) return true;
    return false;
}

int cli_run_phase(const char *cmd, int phase, const char *const *args, const char *results, char *new_run,
                  size_t cap, int *exit_status) {
    if (exit_status) *exit_status = -1;
    char bin[PATH_MAX + 32];
    phase_bin(phase, bin, sizeof bin);
    if (access(bin, X_OK) != 0) {
        fprintf(stderr, "qins: %s: %s not found or not executable (build the phase binary)\n", cmd, bin);
        return 1;
    }
    const char *argv[80];
    size_t n = 0;
    argv[n++] = bin;
    for (; args && *args && n < 79; args++) argv[n++] = *args;
    argv[n] = NULL;
    printf("running");
    for (size_t i = 0; i < n; i++) printf(" %s", argv[i]);
    printf("\n");
    fflush(stdout);
    struct qins_run_meta *before = NULL, *after = NULL;
    size_t nb = 0, na = 0;
    if (qins_results_list(results, phase, &before, &nb, NULL) < 0) return 1;
    const pid_t pid = fork();
    if (pid == 0) {
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0) status = -1;
    const int code = pid >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (exit_status) *exit_status = code;
    if (code != 0) {
        fprintf(stderr, "qins: %s: %s failed (exit status %d)\n", cmd, bin, code);
        free(before);
        return 1;
    }
    if (qins_results_list(results, phase, &after, &na, NULL) < 0) {
        free(before);
        return 1;
    }
    const struct qins_run_meta *found = NULL;
    for (size_t i = 0; i < na && !found; i++) // newest first
        if (!contains(before, nb, after[i].run_id)) found = &after[i];
    if (found) snprintf(new_run, cap, "%s", found->path);
    else
        fprintf(stderr, "qins: %s: %s exited 0 but wrote no new complete run under %s/phase%d\n", cmd, bin, results,
                phase);
    free(before);
    free(after);
    return found ? 0 : 1;
}
