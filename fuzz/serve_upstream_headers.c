// Fuzz target: an upstream's answer head as the proxy reads it (srv_upstream_header, which
// libcurl's header callback calls once per line). The input is cut into lines at each LF, as
// libcurl delivers them. Checked: the status is 0 or three digits, the kept Content-Type (which
// the client receives as its own header) holds only visible ASCII and spaces and fits, and a
// Retry-After is either absent or a delay in (0, 3600) seconds.
#include "fuzz.h"
#include "server/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct srv_call call;
    memset(&call, 0, sizeof call);
    size_t start = 0;
    while (start < size) {
        const uint8_t *nl = memchr(data + start, '\n', size - start);
        size_t end = nl ? (size_t)(nl - data) + 1 : size;
        srv_upstream_header(&call, (const char *)data + start, end - start);
        start = end;
        if (call.status != 0 && (call.status < 100 || call.status > 999))
            abort();
        size_t n = strnlen(call.content_type, sizeof call.content_type);
        if (n == sizeof call.content_type)
            abort(); // not terminated
        for (size_t k = 0; k < n; k++)
            if ((unsigned char)call.content_type[k] < 0x20 || call.content_type[k] == 0x7f)
                abort(); // would split the client's header
        if (call.retry_after_s != 0 && !(call.retry_after_s > 0 && call.retry_after_s < 3600))
            abort();
    }
    return 0;
}
