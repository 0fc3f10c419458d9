// Package natbed builds a network of Linux network namespaces with real NATs
// for tests of package peer:
//
//	left 10.1.0.2 -- natL (masquerade) 203.0.113.2 --+
//	                                                 pub (router; the service on 192.0.2.1)
//	right 10.2.0.2 -- natR (masquerade) 198.51.100.2 -+
//	                                                 |
//	                                       third 100.64.0.2 (a stranger on the public side)
//
// The NATs are nftables masquerades, port-preserving or with random ports;
// traffic between the two private networks is routed without NAT, which
// gives the same links and hops without translation for baselines. It needs
// root, ip (iproute2) and nft (nftables); New skips the test without them,
// and fails it under CI=true. Every namespace is removed when the test ends,
// whatever happened.
package natbed

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// NAT is how a NAT namespace translates its private network's flows.
type NAT struct {
	// RandomPorts maps each flow to a random public port (nftables
	// "masquerade random"), which defeats hole punching like a symmetric
	// NAT. Otherwise the masquerade preserves ports where it can.
	RandomPorts bool
	// ForwardUDP lists UDP ports forwarded from the public side to the
	// host whatever the sender (endpoint-independent filtering, a "full
	// cone"), so that a stranger's packets reach the host's socket.
	ForwardUDP []int
}

// Options configures a Bed.
type Options struct {
	Left, Right NAT
}

// Addresses of the bed.
var (
	ServiceIP = net.IPv4(192, 0, 2, 1)
	LeftIP    = net.IPv4(10, 1, 0, 2)
	RightIP   = net.IPv4(10, 2, 0, 2)
	LeftWAN   = net.IPv4(203, 0, 113, 2)
	RightWAN  = net.IPv4(198, 51, 100, 2)
	ThirdIP   = net.IPv4(100, 64, 0, 2)
)

// Bed is one test's network.
type Bed struct {
	Pub, NATL, NATR, Left, Right, Third *Namespace
}

// Namespace is one network namespace of a Bed.
type Namespace struct {
	Name string
}

// Available reports why the bed cannot run here, or "" if it can.
func Available() string {
	if os.Geteuid() != 0 {
		return "needs root to create network namespaces"
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "needs " + tool + " (apt-get install iproute2 nftables)"
		}
	}
	return ""
}

// New builds a bed for t, or skips t (fails it under CI=true) when the
// machine cannot.
func New(t testing.TB, opts *Options) *Bed {
	t.Helper()
	if why := Available(); why != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the NAT test bed %s; CI must run it", why)
		}
		t.Skipf("the NAT test bed %s", why)
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	id := make([]byte, 3)
	rand.Read(id)
	prefix := "mnb" + hex.EncodeToString(id) + "-"
	b := &Bed{}
	for _, p := range []struct {
		ns   **Namespace
		name string
	}{{&b.Pub, "pub"}, {&b.NATL, "natl"}, {&b.NATR, "natr"}, {&b.Left, "left"}, {&b.Right, "right"}, {&b.Third, "third"}} {
		ns := &Namespace{Name: prefix + p.name}
		if out, err := exec.Command("ip", "netns", "add", ns.Name).CombinedOutput(); err != nil {
			if os.Getenv("CI") != "true" && b.Pub == nil {
				t.Skipf("the NAT test bed cannot create network namespaces here: %v: %s", err, out)
			}
			t.Fatalf("ip netns add %s: %v: %s", ns.Name, err, out)
		}
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns.Name).Run() })
		*p.ns = ns
	}
	run := func(ns *Namespace, args ...string) {
		t.Helper()
		cmd := exec.Command("ip", append([]string{"netns", "exec", ns.Name}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %v: %s", ns.Name, args, err, out)
		}
	}
	link := func(a *Namespace, aIf string, b *Namespace, bIf string) {
		t.Helper()
		if out, err := exec.Command("ip", "-n", a.Name, "link", "add", aIf, "type", "veth", "peer", "name", bIf, "netns", b.Name).CombinedOutput(); err != nil {
			t.Fatalf("veth %s/%s-%s/%s: %v: %s", a.Name, aIf, b.Name, bIf, err, out)
		}
	}
	link(b.Pub, "tol", b.NATL, "wan")
	link(b.Pub, "tor", b.NATR, "wan")
	link(b.Pub, "tox", b.Third, "eth0")
	link(b.NATL, "lan", b.Left, "eth0")
	link(b.NATR, "lan", b.Right, "eth0")
	for _, ns := range []*Namespace{b.Pub, b.NATL, b.NATR, b.Left, b.Right, b.Third} {
		run(ns, "ip", "link", "set", "lo", "up")
	}
	addr := func(ns *Namespace, dev, cidr string) {
		run(ns, "ip", "addr", "add", cidr, "dev", dev)
		run(ns, "ip", "link", "set", dev, "up")
	}
	addr(b.Pub, "tol", "203.0.113.1/24")
	addr(b.Pub, "tor", "198.51.100.1/24")
	addr(b.Pub, "tox", "100.64.0.1/24")
	run(b.Pub, "ip", "addr", "add", "192.0.2.1/32", "dev", "lo")
	run(b.Pub, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward")
	run(b.Pub, "ip", "route", "add", "10.1.0.0/24", "via", "203.0.113.2")
	run(b.Pub, "ip", "route", "add", "10.2.0.0/24", "via", "198.51.100.2")
	addr(b.Third, "eth0", "100.64.0.2/24")
	run(b.Third, "ip", "route", "add", "default", "via", "100.64.0.1")
	for _, n := range []struct {
		nat, host *Namespace
		wan, gw   string
		lan, ip   string
		net       string
		conf      NAT
	}{
		{b.NATL, b.Left, "203.0.113.2/24", "203.0.113.1", "10.1.0.1/24", "10.1.0.2", "10.1.0.0/24", o.Left},
		{b.NATR, b.Right, "198.51.100.2/24", "198.51.100.1", "10.2.0.1/24", "10.2.0.2", "10.2.0.0/24", o.Right},
	} {
		addr(n.nat, "wan", n.wan)
		addr(n.nat, "lan", n.lan)
		run(n.nat, "ip", "route", "add", "default", "via", n.gw)
		run(n.nat, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward")
		addr(n.host, "eth0", n.ip+"/24")
		run(n.host, "ip", "route", "add", "default", "via", strings.TrimSuffix(n.lan, "/24"))
		masq := "masquerade"
		if n.conf.RandomPorts {
			masq = "masquerade random"
		}
		var fwd strings.Builder
		for _, p := range n.conf.ForwardUDP {
			fmt.Fprintf(&fwd, "\t\tiifname \"wan\" udp dport %d dnat to %s\n", p, n.ip)
		}
		ruleset := fmt.Sprintf(`table ip nat {
	chain pre {
		type nat hook prerouting priority dstnat;
%s	}
	chain post {
		type nat hook postrouting priority srcnat;
		ip daddr 10.0.0.0/8 accept
		oifname "wan" ip saddr %s %s
	}
}
table ip filter {
	chain forward {
		type filter hook forward priority filter; policy accept;
		iifname "wan" oifname "lan" ct state established,related accept
		iifname "wan" oifname "lan" ct status dnat accept
		iifname "wan" oifname "lan" ip saddr 10.0.0.0/8 accept
		iifname "wan" oifname "lan" drop
	}
}
`, fwd.String(), n.net, masq)
		cmd := exec.Command("ip", "netns", "exec", n.nat.Name, "nft", "-f", "-")
		cmd.Stdin = strings.NewReader(ruleset)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("nft in %s: %v: %s\n%s", n.nat.Name, err, out, ruleset)
		}
	}
	return b
}

// Do runs f on an OS thread that has entered the namespace: sockets f
// creates belong to it (and keep belonging to it wherever they are used).
// f must create its sockets on its own goroutine, not on others it starts.
func (ns *Namespace) Do(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		// The thread is never unlocked: it leaves the process with this
		// goroutine instead of returning to the pool in the namespace.
		runtime.LockOSThread()
		fd, err := unix.Open("/var/run/netns/"+ns.Name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("natbed: open namespace %s: %w", ns.Name, err)
			return
		}
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		unix.Close(fd)
		if err != nil {
			errc <- fmt.Errorf("natbed: enter namespace %s: %w", ns.Name, err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

// ListenUDP opens a UDP socket in the namespace on port (0: any).
func (ns *Namespace) ListenUDP(port int) (*net.UDPConn, error) {
	var c *net.UDPConn
	err := ns.Do(func() error {
		var err error
		c, err = net.ListenUDP("udp4", &net.UDPAddr{Port: port})
		return err
	})
	return c, err
}

// DialContext dials from the namespace; addr must be an IP address and
// port.
func (ns *Namespace) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := ns.Do(func() error {
		var err error
		c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// Listen opens a TCP listener in the namespace.
func (ns *Namespace) Listen(addr string) (net.Listener, error) {
	var l net.Listener
	err := ns.Do(func() error {
		var err error
		l, err = net.Listen("tcp4", addr)
		return err
	})
	return l, err
}

// HTTPClient is a client whose connections start in the namespace.
func (ns *Namespace) HTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: ns.DialContext, DisableKeepAlives: true}}
}

// Command is name run in the namespace (ip netns exec).
func (ns *Namespace) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// Serve starts the built rendezvous service binary in pub on
// 192.0.2.1:8080 and returns its websocket URL once it accepts
// connections. It is stopped when the test ends.
func (b *Bed) Serve(t testing.TB, binary string, env ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	args := append(append([]string{"MULLET_ADDR=192.0.2.1:8080"}, env...), binary)
	cmd := b.Pub.Command(ctx, "env", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("rendezvous service output:\n%s", out.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := b.Left.DialContext(ctx, "tcp", "192.0.2.1:8080")
		if err == nil {
			c.Close()
			return "ws://192.0.2.1:8080/local"
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rendezvous service did not start: %v\n%s", err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
