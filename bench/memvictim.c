/* A process for bench/memory.sh to scan: MIB MiB of heap filled with
 * pseudo-random bytes (xorshift, seeded, so nothing compresses or
 * deduplicates and every page is really there), optionally with the EICAR
 * test string planted in the middle (assembled at run time from pieces,
 * so neither this file nor the binary holds it). Prints "ready" when
 * filled, then sleeps until killed.
 *
 * usage: memvictim MIB SEED [eicar]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    size_t mib = argc > 1 ? (size_t)atoi(argv[1]) : 200;
    unsigned long long x = 88172645463325252ULL ^ (unsigned long long)(argc > 2 ? atoi(argv[2]) : 1);
    size_t n = mib << 20;
    unsigned char *buf = malloc(n);
    if (buf == NULL) {
        perror("malloc");
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (unsigned char)x;
    }
    if (argc > 3 && strcmp(argv[3], "eicar") == 0) {
        const char *pieces[] = {"X5O!P%@AP[4\\PZX54(P^)7CC)7}$", "EICAR-STANDARD-ANTIVIRUS-",
                                "TEST-FILE!$H+H*"};
        char *at = (char *)buf + n / 2;
        for (int i = 0; i < 3; i++) {
            size_t len = strlen(pieces[i]);
            memcpy(at, pieces[i], len);
            at += len;
        }
    }
    printf("ready\n");
    fflush(stdout);
    for (;;) pause();
}
