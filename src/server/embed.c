// Prompt embeddings for the routers that need them, kept off the network loop. The loop thread
// owns an LRU cache (hash table + list) of prompt -> embedding; a miss creates a pending entry
// that every later request for the same prompt waits on, and queues it for the encoder workers.
// A worker takes everything queued (up to batch_max) and embeds it in one forward pass,
// so concurrent prompts share one forward pass; it then hands the entries back through a second
// queue and an eventfd, and the loop wakes the waiters. Workers only read an entry's text and
// write its embedding while it is pending, which the loop never touches until it is handed back.
// It does not deduplicate by meaning: equal text only.
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "server/server.h"

struct entry {
    uint64_t hash;
    char *text;
    size_t len;
    float *emb;   // (dim)
    int n_tokens; // the tokens the encoder read, [CLS] and [SEP] included
    int status;   // RL_OK once embedded, < 0 after a failed batch
    bool pending; // queued or being embedded; not in the LRU list and never evicted
    struct srv_embed_waiter *waiters;
    struct entry *hnext;         // hash chain
    struct entry *lprev, *lnext; // LRU list, most recent first
    struct entry *qnext;         // job queues
};

struct srv_embedder {
    const struct rl_encoder *enc;
    struct srv_loop *loop;
    int dim;
    int batch_max;
    size_t cap; // ready entries kept

    // Loop-thread state.
    struct entry **table;
    size_t n_buckets; // power of two
    struct entry *lru_head, *lru_tail;
    size_t n_ready;
    struct srv_embed_stats stats;
    struct srv_watch wake;

    // Shared with the workers, under mu.
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct entry *todo_head, *todo_tail;
    struct entry *done_head;
    uint64_t batches, prompts; // counted by workers
    bool stop;

    pthread_t *threads;
    int n_threads;
    int ws_threads; // forward-pass threads per worker: the CPUs shared out among the workers
};

// ----------------------------------------------------------------------------
// Workers

static void *worker_main(void *arg) {
    struct srv_embedder *e = arg;
    const char **texts = calloc((size_t)e->batch_max, sizeof *texts);
    struct entry **batch = calloc((size_t)e->batch_max, sizeof *batch);
    float *out = malloc((size_t)e->batch_max * (size_t)e->dim * sizeof *out);
    // Each worker owns a workspace sized to its share of the CPUs, so several workers never run
    // more forward-pass threads than there are cores.
    struct rl_encoder_ws *ws = rl_encoder_ws_new(e->ws_threads);
    for (;;) {
        pthread_mutex_lock(&e->mu);
        while (!e->stop && !e->todo_head)
            pthread_cond_wait(&e->cv, &e->mu);
        if (e->stop) {
            pthread_mutex_unlock(&e->mu);
            break;
        }
        int n = 0;
        while (e->todo_head && n < e->batch_max) {
            batch[n++] = e->todo_head;
            e->todo_head = e->todo_head->qnext;
        }
        if (!e->todo_head)
            e->todo_tail = NULL;
        pthread_mutex_unlock(&e->mu);

        int rc = RL_ENOMEM;
        if (texts && batch && out && ws) {
            for (int i = 0; i < n; i++)
                texts[i] = batch[i]->text;
            char err[RL_ERRBUF_SIZE] = "";
            rc = rl_encoder_embed_ws(e->enc, ws, texts, (size_t)n, out, err);
            if (rc != RL_OK)
                srv_logf(SRV_LOG_ERROR, "encoder failed", "%s", err);
        }
        for (int i = 0; i < n; i++) {
            batch[i]->status = rc;
            if (rc != RL_OK)
                continue;
            memcpy(batch[i]->emb, out + (size_t)i * (size_t)e->dim, (size_t)e->dim * sizeof *out);
            // The token count (the usage of POST /v1/embeddings) comes from a second
            // tokenization, which costs little beside the forward pass.
            long n_ids = rl_encoder_count_tokens(e->enc, batch[i]->text, batch[i]->len);
            batch[i]->n_tokens = n_ids > 0 ? (int)n_ids : 0;
        }
        pthread_mutex_lock(&e->mu);
        for (int i = 0; i < n; i++) {
            batch[i]->qnext = e->done_head;
            e->done_head = batch[i];
        }
        e->batches++;
        e->prompts += (uint64_t)n;
        pthread_mutex_unlock(&e->mu);
        uint64_t one = 1;
        // Only a counter at its maximum can make this fail, and then the loop is already due to
        // wake up and collect everything in done_head.
        ssize_t wr = write(e->wake.fd, &one, sizeof one);
        (void)wr;
    }
    rl_encoder_ws_free(ws);
    free(texts);
    free(batch);
    free(out);
    return NULL;
}

// ----------------------------------------------------------------------------
// Loop side: table and LRU

static struct entry **bucket(struct srv_embedder *e, uint64_t h) {
    return &e->table[h & (e->n_buckets - 1)];
}

static void lru_unlink(struct srv_embedder *e, struct entry *x) {
    if (x->lprev)
        x->lprev->lnext = x->lnext;
    else
        e->lru_head = x->lnext;
    if (x->lnext)
        x->lnext->lprev = x->lprev;
    else
        e->lru_tail = x->lprev;
    x->lprev = x->lnext = NULL;
}

static void lru_push_front(struct srv_embedder *e, struct entry *x) {
    x->lprev = NULL;
    x->lnext = e->lru_head;
    if (e->lru_head)
        e->lru_head->lprev = x;
    e->lru_head = x;
    if (!e->lru_tail)
        e->lru_tail = x;
}

static void entry_free(struct entry *x) {
    free(x->text);
    free(x->emb);
    free(x);
}

static void table_remove(struct srv_embedder *e, struct entry *x) {
    for (struct entry **p = bucket(e, x->hash); *p; p = &(*p)->hnext) {
        if (*p == x) {
            *p = x->hnext;
            return;
        }
    }
}

static void evict(struct srv_embedder *e) {
    while (e->n_ready > e->cap && e->lru_tail) {
        struct entry *x = e->lru_tail;
        lru_unlink(e, x);
        table_remove(e, x);
        entry_free(x);
        e->n_ready--;
    }
}

// Hand finished entries to their waiters. Each waiter is unlinked before its callback runs, so a
// callback may cancel or free anything of its own.
static void deliver(struct srv_embedder *e, struct entry *x) {
    x->pending = false;
    if (x->status == RL_OK) {
        lru_push_front(e, x);
        e->n_ready++;
    } else {
        table_remove(e, x); // a failure is not cached: the next request tries again
        e->stats.errors++;
    }
    while (x->waiters) {
        struct srv_embed_waiter *w = x->waiters;
        x->waiters = w->next;
        if (x->waiters)
            x->waiters->prev = NULL;
        w->next = w->prev = NULL;
        w->entry = NULL;
        w->n_tokens = x->n_tokens;
        w->cb(w, x->status == RL_OK ? x->emb : NULL, x->status);
    }
    if (x->status != RL_OK)
        entry_free(x);
    else
        evict(e);
}

static void on_wake(struct srv_watch *w, uint32_t events) {
    (void)events;
    struct srv_embedder *e = w->data;
    uint64_t count;
    ssize_t rd = read(w->fd, &count, sizeof count);
    (void)rd; // EAGAIN just means another wake-up already drained it
    pthread_mutex_lock(&e->mu);
    struct entry *done = e->done_head;
    e->done_head = NULL;
    e->stats.batches = e->batches;
    e->stats.prompts = e->prompts;
    pthread_mutex_unlock(&e->mu);
    while (done) {
        struct entry *next = done->qnext;
        done->qnext = NULL;
        deliver(e, done);
        done = next;
    }
}

// ----------------------------------------------------------------------------
// Public

struct srv_embedder *srv_embedder_new(const struct rl_encoder *enc, struct srv_loop *loop,
                                      int workers, int batch_max, size_t cache_entries,
                                      char *errbuf) {
    struct srv_embedder *e = calloc(1, sizeof *e);
    if (!e) {
        rl__errf(errbuf, RL_ENOMEM, "embedder: out of memory");
        return NULL;
    }
    e->enc = enc;
    e->loop = loop;
    e->dim = rl_encoder_dim(enc);
    e->batch_max = batch_max > 0 ? batch_max : 1;
    e->cap = cache_entries;
    e->n_buckets = 1024;
    while (e->n_buckets < cache_entries * 2 && e->n_buckets < (1u << 24))
        e->n_buckets *= 2;
    e->table = calloc(e->n_buckets, sizeof *e->table);
    if (workers < 1)
        workers = 1;
    long n_cpus = sysconf(_SC_NPROCESSORS_ONLN);
    e->ws_threads = n_cpus > workers ? (int)(n_cpus / workers) : 1;
    e->threads = calloc((size_t)workers, sizeof *e->threads);
    e->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    e->wake.cb = on_wake;
    e->wake.data = e;
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    if (!e->table || !e->threads || e->wake.fd < 0 ||
        srv_loop_add(loop, &e->wake, EPOLLIN) != RL_OK) {
        rl__errf(errbuf, RL_ENOMEM, "embedder: cannot allocate its table or eventfd");
        srv_embedder_free(e);
        return NULL;
    }
    for (int i = 0; i < workers; i++) {
        if (pthread_create(&e->threads[i], NULL, worker_main, e) != 0) {
            rl__errf(errbuf, RL_ENOMEM, "embedder: cannot start encoder thread %d", i);
            srv_embedder_free(e);
            return NULL;
        }
        e->n_threads++;
    }
    return e;
}

void srv_embedder_free(struct srv_embedder *e) {
    if (!e)
        return;
    pthread_mutex_lock(&e->mu);
    e->stop = true;
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
    for (int i = 0; i < e->n_threads; i++)
        pthread_join(e->threads[i], NULL);
    // Entries still queued or handed back are in the table too, so freeing the table frees all.
    for (size_t b = 0; e->table && b < e->n_buckets; b++) {
        struct entry *x = e->table[b];
        while (x) {
            struct entry *next = x->hnext;
            entry_free(x);
            x = next;
        }
    }
    if (e->wake.fd >= 0) {
        srv_loop_del(e->loop, &e->wake);
        close(e->wake.fd);
    }
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->cv);
    free(e->table);
    free(e->threads);
    free(e);
}

int srv_embedder_get(struct srv_embedder *e, const char *text, size_t len,
                     struct srv_embed_waiter *w, const float **embedding) {
    // FNV-1a: prompts are short and a probe compares the full text anyway.
    uint64_t h = rl__fnv1a(text, len, RL_FNV1A_INIT);
    struct entry *x = *bucket(e, h);
    while (x && !(x->hash == h && x->len == len && memcmp(x->text, text, len) == 0))
        x = x->hnext;
    if (x && !x->pending) {
        lru_unlink(e, x);
        lru_push_front(e, x);
        e->stats.hits++;
        *embedding = x->emb;
        w->n_tokens = x->n_tokens;
        return 1;
    }
    if (!x) {
        e->stats.misses++;
        x = calloc(1, sizeof *x);
        if (!x)
            return RL_ENOMEM;
        x->hash = h;
        x->len = len;
        x->text = malloc(len + 1);
        x->emb = malloc((size_t)e->dim * sizeof *x->emb);
        if (!x->text || !x->emb) {
            entry_free(x);
            return RL_ENOMEM;
        }
        memcpy(x->text, text, len);
        x->text[len] = '\0';
        x->pending = true;
        struct entry **b = bucket(e, h);
        x->hnext = *b;
        *b = x;
        pthread_mutex_lock(&e->mu);
        if (e->todo_tail)
            e->todo_tail->qnext = x;
        else
            e->todo_head = x;
        e->todo_tail = x;
        pthread_cond_signal(&e->cv);
        pthread_mutex_unlock(&e->mu);
    } else {
        e->stats.hits++; // joined an embedding already on its way
    }
    w->prev = NULL;
    w->next = x->waiters;
    if (x->waiters)
        x->waiters->prev = w;
    x->waiters = w;
    w->entry = x;
    return 0;
}

void srv_embedder_cancel(struct srv_embedder *e, struct srv_embed_waiter *w) {
    (void)e;
    struct entry *x = w->entry;
    if (!x)
        return;
    if (w->prev)
        w->prev->next = w->next;
    else
        x->waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
    w->entry = NULL;
}

int srv_embedder_dim(const struct srv_embedder *e) {
    return e->dim;
}

struct srv_embed_stats srv_embedder_stats(const struct srv_embedder *e) {
    return e->stats;
}
