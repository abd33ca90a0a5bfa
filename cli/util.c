/* util.c - small helpers shared by the cli/ subcommands: --help detection, the stop signals
 * and their wake pipe (files: base_read_file). */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

volatile sig_atomic_t cli_stop;
int cli_wake[2] = {-1, -1};

static void on_signal(int sig)
{
    (void)sig;
    cli_stop = 1;
    int saved = errno;
    ssize_t n = write(cli_wake[1], "s", 1);
    (void)n;
    errno = saved;
}

bool cli_signals_catch(void)
{
    if (pipe2(cli_wake, O_CLOEXEC | O_NONBLOCK) != 0)
        return false;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return true;
}

void cli_signals_release(void)
{
    for (int i = 0; i < 2; i++) {
        if (cli_wake[i] >= 0)
            close(cli_wake[i]);
        cli_wake[i] = -1;
    }
}

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return 1;
    return 0;
}
