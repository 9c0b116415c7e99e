// The ebpf link kind's switch: a tc ingress program on the two middle veth ends of a link,
// handing each packet straight to the ingress of the other pair's far end. bpf_redirect_peer
// crosses into that namespace without a second trip through the backlog queue, and no bridge
// is involved. vfwire's link code gives the middle ends these fixed ifindexes in the link's
// own namespace, so the program needs no map.
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#define LEFT 10
#define RIGHT 20

SEC("tc")
int redirect_peer(struct __sk_buff *skb)
{
	if (skb->ifindex == LEFT)
		return bpf_redirect_peer(RIGHT, 0);
	if (skb->ifindex == RIGHT)
		return bpf_redirect_peer(LEFT, 0);
	return TC_ACT_OK;
}

char _license[] SEC("license") = "GPL";
