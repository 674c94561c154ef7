// The stub OpenAI upstream of tests/support as a program, for the proxy benchmarks
// (bench/serve_proxy.sh, bench/soak.sh): `proxy_stub [--port N] [--threaded [--delay-ms MS]]`
// serves until SIGTERM or SIGINT and prints its port on stdout; --delay-ms is the wait of its
// slow mode. Without --threaded it answers from one epoll thread, the
// "fast stub" the gateway-overhead benchmark puts behind every proxy.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/support/stub_upstream.c"

int main(int argc, char **argv) {
    int port = 0;
    bool threaded = false;
    int delay_ms = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            port = (int)strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--threaded") == 0) {
            threaded = true;
        } else if (strcmp(argv[i], "--delay-ms") == 0 && i + 1 < argc) {
            delay_ms = (int)strtol(argv[++i], NULL, 10);
        } else {
            fprintf(stderr, "usage: proxy_stub [--port N] [--threaded [--delay-ms MS]]\n");
            return 2;
        }
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct stub_upstream *s = stub_start(port, threaded);
    if (!s) {
        fprintf(stderr, "proxy_stub: cannot listen on port %d\n", port);
        return 1;
    }
    stub_set_delay(s, delay_ms); // the slow mode's wait
    printf("%d\n", stub_port(s));
    fflush(stdout);
    int sig;
    sigwait(&set, &sig);
    stub_stop(s);
    return 0;
}
