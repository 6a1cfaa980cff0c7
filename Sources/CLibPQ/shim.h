#ifndef CARERELAY_CLIBPQ_SHIM_H
#define CARERELAY_CLIBPQ_SHIM_H

#include <libpq-fe.h>

/* PG_DIAG_* are macros of character literals and do not import into Swift:
   re-export them as constants. Values from postgres_ext.h. */
static const int CPQ_DIAG_SEVERITY = 'S';
static const int CPQ_DIAG_SEVERITY_NONLOCALIZED = 'V';
static const int CPQ_DIAG_SQLSTATE = 'C';
static const int CPQ_DIAG_MESSAGE_PRIMARY = 'M';
static const int CPQ_DIAG_MESSAGE_DETAIL = 'D';
static const int CPQ_DIAG_MESSAGE_HINT = 'H';
static const int CPQ_DIAG_STATEMENT_POSITION = 'P';
static const int CPQ_DIAG_CONTEXT = 'W';
static const int CPQ_DIAG_SCHEMA_NAME = 's';
static const int CPQ_DIAG_TABLE_NAME = 't';
static const int CPQ_DIAG_COLUMN_NAME = 'c';
static const int CPQ_DIAG_DATATYPE_NAME = 'd';
static const int CPQ_DIAG_CONSTRAINT_NAME = 'n';

#ifdef __linux__
#include <errno.h>
#include <sys/epoll.h>

/* The poller's epoll calls (Sources/PQ/Poller.swift). struct epoll_event is packed on x86-64,
   so its fields are set here rather than from Swift. */

/* Arms `fd` once (EPOLLONESHOT): readable, and writable too when `writable` is non-zero. A file
   closed since its last arming has left the set, so MOD falls back to ADD. */
static inline int cpq_epoll_arm(int epfd, int fd, int writable) {
    struct epoll_event event;
    event.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT | (writable ? EPOLLOUT : 0);
    event.data.fd = fd;
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &event) == 0) return 0;
    if (errno != ENOENT) return -1;
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event);
}

/* Waits for armed files; writes up to `capacity` (at most 64) ready descriptors to `fds`. */
static inline int cpq_epoll_wait(int epfd, int *fds, int capacity, int timeout) {
    struct epoll_event events[64];
    if (capacity > 64) capacity = 64;
    int count = epoll_wait(epfd, events, capacity, timeout);
    for (int i = 0; i < count; i++) fds[i] = events[i].data.fd;
    return count;
}
#endif

#endif
