/* The exec'd user's HOME from the container's /etc/passwd, read as a hostile file. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Bytes read from /etc/passwd at most, and how long the lookup may take. */
#define PASSWD_MAX_BYTES (16u << 20)
#define PASSWD_TIMEOUT_SECONDS 2

/*
 * runc's setupUser: HOME of uid's entry in `path`, "/" when there is none or the file is not a
 * regular file (a FIFO, /dev/zero behind a symlink), is larger than PASSWD_MAX_BYTES, or takes
 * longer than PASSWD_TIMEOUT_SECONDS to read.
 */
void passwd_home(const char *path, uid_t uid, char *out, size_t len);
