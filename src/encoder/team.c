// A small thread team for the forward pass. Helpers wait for a job generation number: they spin
// briefly after each job (a forward pass is a few milliseconds, and the next one often follows
// at once), then sleep on a condition variable. The caller's wait for the helpers spins and then
// yields, so that an oversubscribed machine still makes progress. One team runs one job at a
// time; the workspace that owns it is not shared between threads.
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "encoder/bert.h"

#define SPIN_BEFORE_SLEEP 20000 // polls of the job counter before a helper sleeps
#define SPIN_BEFORE_YIELD 4000  // polls of the helpers' count before each sched_yield

struct helper {
    struct rl__team *team;
    pthread_t thread;
    int tid;
};

struct rl__team {
    int n_threads;
    struct helper *helpers; // (n_threads - 1)
    int n_started;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_uint job;  // generation of the current job
    atomic_bool stop; // set once, by rl__team_free
    void (*fn)(void *arg, int tid, int n);
    void *arg;
    int n_active;       // threads taking part in the current job
    atomic_int pending; // helpers that have not yet finished (or skipped) the current job
};

void rl__cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void *helper_main(void *p) {
    struct helper *h = p;
    struct rl__team *t = h->team;
    unsigned seen = 0;
    for (;;) {
        int spins = 0;
        while (atomic_load(&t->job) == seen && !atomic_load(&t->stop) &&
               spins++ < SPIN_BEFORE_SLEEP)
            rl__cpu_relax();
        if (atomic_load(&t->job) == seen && !atomic_load(&t->stop)) {
            pthread_mutex_lock(&t->mu);
            while (atomic_load(&t->job) == seen && !atomic_load(&t->stop))
                pthread_cond_wait(&t->cv, &t->mu);
            pthread_mutex_unlock(&t->mu);
        }
        if (atomic_load(&t->stop))
            return NULL;
        seen = atomic_load(&t->job);
        // Every helper acknowledges every job, so none can lag a generation behind.
        if (h->tid < t->n_active)
            t->fn(t->arg, h->tid, t->n_active);
        atomic_fetch_sub(&t->pending, 1);
    }
}

struct rl__team *rl__team_new(int n_threads) {
    struct rl__team *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->n_threads = n_threads < 1 ? 1 : n_threads;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    if (t->n_threads > 1) {
        t->helpers = calloc((size_t)t->n_threads - 1, sizeof *t->helpers);
        if (!t->helpers) {
            rl__team_free(t);
            return NULL;
        }
    }
    for (int i = 0; i < t->n_threads - 1; i++) {
        struct helper *h = &t->helpers[i];
        h->team = t;
        h->tid = i + 1;
        if (pthread_create(&h->thread, NULL, helper_main, h) != 0) {
            rl__team_free(t);
            return NULL;
        }
        t->n_started++;
    }
    return t;
}

void rl__team_free(struct rl__team *t) {
    if (!t)
        return;
    pthread_mutex_lock(&t->mu);
    atomic_store(&t->stop, true);
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    for (int i = 0; i < t->n_started; i++)
        pthread_join(t->helpers[i].thread, NULL);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    free(t->helpers);
    free(t);
}

int rl__team_size(const struct rl__team *t) {
    return t ? t->n_threads : 1;
}

void rl__team_run(struct rl__team *t, int n, void (*fn)(void *arg, int tid, int n), void *arg) {
    if (!t || n <= 1) {
        fn(arg, 0, 1);
        return;
    }
    if (n > t->n_threads)
        n = t->n_threads;
    t->fn = fn;
    t->arg = arg;
    t->n_active = n;
    atomic_store(&t->pending, t->n_threads - 1);
    // The increment publishes fn, arg and n_active; taking the lock around the broadcast means a
    // helper that checked the counter just before cannot miss the wake-up.
    pthread_mutex_lock(&t->mu);
    atomic_fetch_add(&t->job, 1);
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    fn(arg, 0, n);
    int spins = 0;
    while (atomic_load(&t->pending) > 0) {
        if (++spins < SPIN_BEFORE_YIELD) {
            rl__cpu_relax();
        } else {
            sched_yield();
            spins = 0;
        }
    }
}
