// The probe's socket work that Swift cannot express: control messages (CMSG_* are macros),
// the kernel's timestamping structures, setns, and CPU affinity for one thread.
#ifndef VFWIRE_CPROBE_SHIM_H
#define VFWIRE_CPROBE_SHIM_H
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <errno.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <linux/net_tstamp.h>
#include <linux/errqueue.h>
#include <sys/syscall.h>
#include <poll.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

extern int setns(int fd, int nstype);
static inline int vfw_probe_setns_net(int fd) { return setns(fd, 0x40000000); }

// The kernel's software stamps, and raw hardware ones when the NIC makes them. TX_SCHED stamps
// a datagram as it enters the qdisc: TX_SOFTWARE's stamp comes from the driver, after it, and
// would leave the sender's own shaping (netem, a tbf's queue) out of the round trip.
static inline int vfw_probe_enable_timestamps(int fd) {
    unsigned flags = SOF_TIMESTAMPING_TX_SCHED | SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE
        | SOF_TIMESTAMPING_TX_HARDWARE | SOF_TIMESTAMPING_RX_HARDWARE | SOF_TIMESTAMPING_RAW_HARDWARE
        | SOF_TIMESTAMPING_OPT_ID | SOF_TIMESTAMPING_OPT_TSONLY;
    return setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof flags);
}

static inline int64_t vfw_probe_ns(const struct timespec *t) { return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec; }

// One datagram or one error-queue entry, and the stamps that came with it: software and
// hardware in nanoseconds (0 when absent) and, for a transmit stamp, the send's counter and
// whether it is the qdisc's (SCHED) or the driver's (SND).
typedef struct { int64_t sw; int64_t hw; uint32_t id; int is_tx; int is_sched; } vfw_probe_stamp;

static inline ssize_t vfw_probe_recv(int fd, void *buf, size_t len, int errqueue, vfw_probe_stamp *st) {
    char control[512];
    struct iovec iov = { buf, len };
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &iov; m.msg_iovlen = 1;
    m.msg_control = control; m.msg_controllen = sizeof control;
    memset(st, 0, sizeof *st);
    ssize_t n = recvmsg(fd, &m, MSG_DONTWAIT | (errqueue ? MSG_ERRQUEUE : 0));
    if (n < 0) return n;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPING) {
            struct scm_timestamping *ts = (struct scm_timestamping *)CMSG_DATA(c);
            st->sw = vfw_probe_ns(&ts->ts[0]);
            st->hw = vfw_probe_ns(&ts->ts[2]);
        } else if ((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR)
                   || (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)) {
            struct sock_extended_err *e = (struct sock_extended_err *)CMSG_DATA(c);
            if (e->ee_origin == SO_EE_ORIGIN_TIMESTAMPING && (e->ee_info == SCM_TSTAMP_SND || e->ee_info == SCM_TSTAMP_SCHED)) {
                st->id = e->ee_data;
                st->is_tx = 1;
                st->is_sched = e->ee_info == SCM_TSTAMP_SCHED;
            }
        }
    }
    return n;
}

// Pins the calling thread (not the process) to one CPU; the raw call needs no _GNU_SOURCE.
static inline int vfw_probe_pin(int cpu) {
    unsigned long mask[16];
    if (cpu < 0 || cpu >= (int)(8 * sizeof mask)) { errno = EINVAL; return -1; }
    memset(mask, 0, sizeof mask);
    mask[cpu / (8 * sizeof(unsigned long))] = 1UL << (cpu % (8 * sizeof(unsigned long)));
    return (int)syscall(SYS_sched_setaffinity, 0, sizeof mask, mask);
}

extern int pipe2(int fds[2], int flags);
static inline int vfw_probe_pipe(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

extern int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *t, const sigset_t *mask);
// Waits up to `ns` nanoseconds for either descriptor to be readable (or to have an error
// queue entry): poll's millisecond timeout would cap the probe's rate at 1,000 per second.
static inline int vfw_probe_wait(int fd, int other, int64_t ns) {
    struct pollfd p[2] = { { fd, POLLIN, 0 }, { other, POLLIN, 0 } };
    struct timespec t = { ns / 1000000000, ns % 1000000000 };
    return ppoll(p, other >= 0 ? 2 : 1, ns < 0 ? NULL : &t, NULL);
}

static inline int64_t vfw_probe_realtime_ns(void) {
    struct timespec t; clock_gettime(CLOCK_REALTIME, &t); return vfw_probe_ns(&t);
}
static inline int64_t vfw_probe_monotonic_ns(void) {
    struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return vfw_probe_ns(&t);
}
// A flood's batches: one system call per VFW_PROBE_BATCH datagrams, so the rate measured is the
// link's rather than the cost of a send() or recv() per packet. The sender repeats one buffer;
// the counter needs only how many arrived, so longer datagrams are truncated into its scratch.
// glibc declares struct mmsghdr only under _GNU_SOURCE, which would give its headers a second
// shape next to Swift's Glibc module (see setns above): the kernel's layout, and the syscalls.
#define VFW_PROBE_BATCH 64
struct vfw_mmsghdr { struct msghdr msg_hdr; unsigned int msg_len; };
static inline int vfw_probe_send_batch(int fd, const void *buf, size_t len, unsigned n) {
    struct vfw_mmsghdr m[VFW_PROBE_BATCH];
    struct iovec v = { (void *)buf, len };
    if (n > VFW_PROBE_BATCH) n = VFW_PROBE_BATCH;
    memset(m, 0, sizeof m);
    for (unsigned i = 0; i < n; i++) { m[i].msg_hdr.msg_iov = &v; m[i].msg_hdr.msg_iovlen = 1; }
    return (int)syscall(SYS_sendmmsg, fd, m, n, 0);
}
static inline int vfw_probe_recv_batch(int fd) {
    static __thread char scratch[VFW_PROBE_BATCH][256];
    struct vfw_mmsghdr m[VFW_PROBE_BATCH];
    struct iovec v[VFW_PROBE_BATCH];
    memset(m, 0, sizeof m);
    for (unsigned i = 0; i < VFW_PROBE_BATCH; i++) {
        v[i].iov_base = scratch[i]; v[i].iov_len = sizeof scratch[i];
        m[i].msg_hdr.msg_iov = &v[i]; m[i].msg_hdr.msg_iovlen = 1;
    }
    return (int)syscall(SYS_recvmmsg, fd, m, VFW_PROBE_BATCH, MSG_DONTWAIT, NULL);
}

#endif
