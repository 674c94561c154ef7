// Trainer helpers: the seeded RNG, the two-way parallel runner and output tensors.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "train/train_impl.h"

// ----------------------------------------------------------------------------
// RNG

// The state is four consecutive outputs of splitmix64 from the seed, as Vigna recommends.
void rl__rng_seed(struct rl_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++)
        r->s[i] = rl__splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

uint64_t rl__rng_next(struct rl_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double rl__rng_uniform(struct rl_rng *r) {
    return rl__unit_double(rl__rng_next(r));
}

double rl__rng_normal(struct rl_rng *r) {
    double u1 = 1.0 - rl__rng_uniform(r), u2 = rl__rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

// Lemire's multiply-and-reject keeps the draw unbiased.
uint64_t rl__rng_below(struct rl_rng *r, uint64_t n) {
    for (;;) {
        unsigned __int128 m = (unsigned __int128)rl__rng_next(r) * n;
        uint64_t lo = (uint64_t)m;
        if (lo >= n || lo >= (0 - n) % n)
            return (uint64_t)(m >> 64);
    }
}

void rl__rng_shuffle(struct rl_rng *r, uint32_t *a, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)rl__rng_below(r, i);
        uint32_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

// ----------------------------------------------------------------------------
// Two-way parallel runner

static void *par2_worker(void *arg) {
    struct rl_par2 *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->state != 1 && p->state != 3)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->state == 3)
            break;
        pthread_mutex_unlock(&p->mu);
        p->fn(p->arg);
        pthread_mutex_lock(&p->mu);
        p->state = 2;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int rl__par2_init(struct rl_par2 *p, int n_threads) {
    memset(p, 0, sizeof *p);
    if (n_threads < 2)
        return RL_OK;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (pthread_create(&p->worker, NULL, par2_worker, p) != 0) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        return RL_ENOMEM;
    }
    p->threaded = true;
    return RL_OK;
}

void rl__par2_run(struct rl_par2 *p, void (*fn)(void *), void *arg0, void *arg1) {
    if (!p->threaded) {
        fn(arg0);
        fn(arg1);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg1;
    p->state = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    fn(arg0);
    pthread_mutex_lock(&p->mu);
    while (p->state != 2)
        pthread_cond_wait(&p->cv, &p->mu);
    p->state = 0;
    pthread_mutex_unlock(&p->mu);
}

void rl__par2_free(struct rl_par2 *p) {
    if (!p->threaded)
        return;
    pthread_mutex_lock(&p->mu);
    p->state = 3;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->worker, NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    p->threaded = false;
}

// ----------------------------------------------------------------------------
// Output tensors

int rl__train_out_add(struct rl_train_out *o, const char *name, enum rl_dtype dtype, int n_dims,
                      const int64_t *shape, void *data) {
    if (o->n >= RL_TRAIN_MAX_TENSORS) {
        free(data);
        return RL_ETOOBIG;
    }
    struct rl_tensor *t = &o->t[o->n];
    memset(t, 0, sizeof *t);
    t->name = name;
    t->dtype = dtype;
    t->n_dims = n_dims;
    size_t count = 1;
    for (int i = 0; i < n_dims; i++) {
        t->shape[i] = shape[i];
        count *= (size_t)shape[i];
    }
    t->data = data;
    t->nbytes = count * rl_dtype_size(dtype);
    o->owned[o->n] = data;
    o->n++;
    return RL_OK;
}

int rl__train_out_take(struct rl_train_out *o, const struct rl_train_tensor *t, size_t n) {
    int rc = RL_OK;
    for (size_t i = 0; i < n; i++) {
        if (!t[i].data)
            continue;
        if (rc == RL_OK)
            rc = rl__train_out_add(o, t[i].name, t[i].dtype, t[i].n_dims, t[i].shape, t[i].data);
        else
            free(t[i].data);
    }
    return rc;
}

int rl__train_out_slices(struct rl_train_out *o, const float *theta,
                         const struct rl_train_tensor *t, size_t n, const char *kind,
                         char *errbuf) {
    const float *at = theta;
    for (size_t i = 0; i < n; i++) {
        size_t count = 1;
        for (int d = 0; d < t[i].n_dims; d++)
            count *= (size_t)t[i].shape[d];
        float *copy = malloc(count * sizeof *copy);
        if (!copy)
            return rl__errf(errbuf, RL_ENOMEM, "%s: out of memory", kind);
        memcpy(copy, at, count * sizeof *copy);
        at += count;
        int rc = rl__train_out_add(o, t[i].name, RL_DTYPE_F32, t[i].n_dims, t[i].shape, copy);
        if (rc != RL_OK)
            return rl__errf(errbuf, rc, "%s: cannot collect the tensors", kind);
    }
    return RL_OK;
}
