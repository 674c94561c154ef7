// The library's one hash and one seeded generator (core.h): 64-bit FNV-1a (Fowler, Noll and Vo),
// splitmix64's finaliser to spread its bits, and the splitmix64 stream (Steele, Lea and Flood,
// "Fast splittable pseudorandom number generators", 2014) for every reproducible draw: the
// random router, bootstrap resamples, the trainers' seeding, synthetic test and benchmark data.
#include <string.h>

#include <openssl/sha.h>

#include "core/core.h"

#define FNV1A_PRIME 0x100000001b3ull

uint64_t rl__fnv1a(const void *data, size_t len, uint64_t h) {
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * FNV1A_PRIME;
    return h;
}

uint64_t rl__fnv1a_strings(const char *const *s, size_t n, uint64_t h) {
    h = rl__fnv1a(&n, sizeof n, h);
    for (size_t i = 0; i < n; i++) {
        uint64_t len = strlen(s[i]);
        h = rl__fnv1a(&len, sizeof len, h);
        h = rl__fnv1a(s[i], len, h);
    }
    return h;
}

uint64_t rl__mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t rl__hash64(const void *data, size_t len) {
    return rl__mix64(rl__fnv1a(data, len, RL_FNV1A_INIT));
}

uint64_t rl__splitmix64(uint64_t *state) {
    *state += RL_GOLDEN64;
    return rl__mix64(*state);
}

uint64_t rl__splitmix64_at(uint64_t seed, uint64_t k) {
    return rl__mix64(seed + (k + 1) * RL_GOLDEN64);
}

double rl__unit_double(uint64_t x) {
    return (double)(x >> 11) * 0x1.0p-53;
}

void rl__sha256_hex(const void *data, size_t len, char hex[65]) {
    static const char digits[] = "0123456789abcdef";
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(data, len, md);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
}
