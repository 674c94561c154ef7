// The server's event loop: one epoll set of file-descriptor watchers plus a sorted list of
// one-shot timers, run by a single thread. The timer list is linear because a server has only a
// handful armed at once (retry back-offs and libcurl's one timeout). Not thread-safe, on purpose:
// other threads talk to the loop through an eventfd they signal.
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "server/server.h"

#define LOOP_MAX_EVENTS 256

struct srv_loop {
    int epfd;
    struct srv_timer *timers; // sorted by due_ns
    // The batch being dispatched: a watcher removed by an earlier callback of the same batch
    // must not be called (its memory may be gone), so srv_loop_del clears its entry here.
    struct epoll_event evs[LOOP_MAX_EVENTS];
    int n_evs;
};

uint64_t srv_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct srv_loop *srv_loop_new(void) {
    struct srv_loop *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        free(l);
        return NULL;
    }
    return l;
}

void srv_loop_free(struct srv_loop *l) {
    if (!l)
        return;
    close(l->epfd);
    free(l);
}

int srv_loop_add(struct srv_loop *l, struct srv_watch *w, uint32_t events) {
    struct epoll_event ev = {.events = events, .data.ptr = w};
    return epoll_ctl(l->epfd, EPOLL_CTL_ADD, w->fd, &ev) == 0 ? RL_OK : RL_EIO;
}

int srv_loop_mod(struct srv_loop *l, struct srv_watch *w, uint32_t events) {
    struct epoll_event ev = {.events = events, .data.ptr = w};
    return epoll_ctl(l->epfd, EPOLL_CTL_MOD, w->fd, &ev) == 0 ? RL_OK : RL_EIO;
}

void srv_loop_del(struct srv_loop *l, struct srv_watch *w) {
    // Failure means the descriptor is already gone from the set, which is what we want.
    (void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
    for (int i = 0; i < l->n_evs; i++)
        if (l->evs[i].data.ptr == w)
            l->evs[i].data.ptr = NULL;
}

void srv_timer_stop(struct srv_loop *l, struct srv_timer *t) {
    if (!t->armed)
        return;
    for (struct srv_timer **p = &l->timers; *p; p = &(*p)->next) {
        if (*p == t) {
            *p = t->next;
            break;
        }
    }
    t->armed = false;
    t->next = NULL;
}

void srv_timer_start(struct srv_loop *l, struct srv_timer *t, double delay_s) {
    srv_timer_stop(l, t);
    if (delay_s < 0)
        delay_s = 0;
    t->due_ns = srv_now_ns() + (uint64_t)(delay_s * 1e9);
    struct srv_timer **p = &l->timers;
    while (*p && (*p)->due_ns <= t->due_ns)
        p = &(*p)->next;
    t->next = *p;
    *p = t;
    t->armed = true;
}

int srv_loop_run_once(struct srv_loop *l, int max_wait_ms) {
    int wait_ms = max_wait_ms;
    if (l->timers) {
        uint64_t now = srv_now_ns(), due = l->timers->due_ns;
        // Round up so that a timer is never polled for before it is due.
        int t_ms = due <= now ? 0 : (int)((due - now + 999999) / 1000000);
        if (wait_ms < 0 || t_ms < wait_ms)
            wait_ms = t_ms;
    }
    int n = epoll_wait(l->epfd, l->evs, LOOP_MAX_EVENTS, wait_ms);
    if (n < 0 && errno != EINTR)
        return RL_EIO;
    l->n_evs = n < 0 ? 0 : n;
    for (int i = 0; i < l->n_evs; i++) {
        struct srv_watch *w = l->evs[i].data.ptr;
        if (w)
            w->cb(w, l->evs[i].events);
    }
    l->n_evs = 0;
    uint64_t now = srv_now_ns();
    while (l->timers && l->timers->due_ns <= now) {
        struct srv_timer *t = l->timers;
        l->timers = t->next;
        t->next = NULL;
        t->armed = false;
        t->cb(t);
    }
    return RL_OK;
}
