// Core definitions shared by every part of libroutellm: status codes, error buffers, version and
// a handful of macros. Nothing here allocates or keeps state; everything is thread-safe.
#ifndef RL_CORE_H
#define RL_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "rl/version.h" // RL_VERSION "x.y.z", written from the VERSION file by the Makefile

// Status codes. Negative means error (as in libuv and ggml); functions that return a count
// return >= 0 on success or one of these.
enum rl_status {
    RL_OK = 0,
    RL_ENOMEM = -1,       // allocation failed
    RL_EIO = -2,          // a file or socket could not be read or written
    RL_EFORMAT = -3,      // outside input is malformed
    RL_EINVAL = -4,       // an argument is out of range
    RL_ETOOBIG = -5,      // input exceeds a named limit
    RL_EUNSUPPORTED = -6, // a valid input this build does not handle
};

// Size of the optional error buffer taken by functions that read outside input. They write one
// line (no trailing newline) naming the file, the value found and the value expected.
#define RL_ERRBUF_SIZE 256

#if defined(__GNUC__)
#define RL_NODISCARD    __attribute__((warn_unused_result))
#define RL_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define RL_NODISCARD
#define RL_PRINTF(f, a)
#endif

// The declarations between RL_API_BEGIN and RL_API_END, in the public headers, are the API that
// libroutellm.so exports; the library is built with -fvisibility=hidden, so nothing else is.
#if defined(__GNUC__)
#define RL_API_BEGIN _Pragma("GCC visibility push(default)")
#define RL_API_END   _Pragma("GCC visibility pop")
#else
#define RL_API_BEGIN
#define RL_API_END
#endif

#define RL_COUNTOF(a) (sizeof(a) / sizeof((a)[0]))

// The text of a macro's value: RL_STRINGIFY(RL_DECONTAM_COSINE) is "0.95", for help texts that
// name a default.
#define RL_STRINGIFY(x)  RL_STRINGIFY_(x)
#define RL_STRINGIFY_(x) #x

// The model pair RouteLLM routes between (arXiv 2406.18665), the default of every part that
// needs one: training, the data readers' judge set, the random router and the server.
#define RL_MODEL_DEFAULT_STRONG "gpt-4-1106-preview"
#define RL_MODEL_DEFAULT_WEAK   "mixtral-8x7b-instruct-v0.1"

RL_API_BEGIN

const char *rl_strerror(int status); // static string for a status; never NULL
const char *rl_version(void);        // RL_VERSION

// The home, where the shipped routers (routers/), data (data/) and encoder weights (models/) are
// found: $ROUTELLM_HOME when set; else <prefix>/share/routellm when the running program or
// libroutellm.so lies in <prefix>/bin or <prefix>/lib (an installed copy); else the source tree
// the library was built from. A static string (or the environment's), never NULL.
const char *rl_home(void);

RL_API_END

#endif
