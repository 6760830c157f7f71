// Command testenv starts and stops a real Kubernetes control plane for tests: etcd, kube-apiserver,
// optionally kube-controller-manager, and test-kubelet, all on loopback ports, with certificates it
// generates itself.
//
//	testenv up [flags]        start a detached supervisor, wait until the cluster is ready and print
//	                          its description (JSON, also written to <dir>/cluster.json)
//	testenv down --dir DIR    stop the cluster whose supervisor runs in DIR and wait until it is gone
//	testenv supervise [flags] what `up` runs in the background; not for direct use
//
// The supervisor stops every process it started when it gets SIGTERM or SIGINT, when the process
// given by --watch-pid exits (the test runner that started it), or when etcd or the API server die.
// Its children also get SIGKILL from the kernel if the supervisor itself dies (PR_SET_PDEATHSIG).
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Cluster is what `up` prints and writes to <dir>/cluster.json.
type Cluster struct {
	Dir               string         `json:"dir"`
	Server            string         `json:"server"`
	AdminKubeconfig   string         `json:"adminKubeconfig"`
	LimitedKubeconfig string         `json:"limitedKubeconfig"`
	LimitedUser       string         `json:"limitedUser"`
	LimitedNamespace  string         `json:"limitedNamespace"`
	NodeName          string         `json:"nodeName"`
	KubeletPort       int            `json:"kubeletPort"`
	Etcd              string         `json:"etcd"`
	CAFile            string         `json:"caFile"`
	BinDir            string         `json:"binDir"`
	SupervisorPid     int            `json:"supervisorPid"`
	Pids              map[string]int `json:"pids"`
	CRDs              []string       `json:"crds"`
	StartupMillis     int64          `json:"startupMillis"`
}

type options struct {
	dir               string
	binDir            string
	watchPid          int
	crds              []string
	nodeName          string
	controllerManager bool
	keepDir           bool
	timeout           time.Duration
	verbosity         int
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func parseOptions(name string, args []string) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	self, _ := os.Executable()
	fs.StringVar(&o.dir, "dir", "", "working directory of the cluster (created; default: a new temporary directory)")
	fs.StringVar(&o.binDir, "bin", filepath.Dir(self), "directory holding etcd, kube-apiserver, kubectl, test-kubelet")
	fs.IntVar(&o.watchPid, "watch-pid", 0, "stop the cluster when this process exits (0: do not watch)")
	fs.Var((*stringList)(&o.crds), "crd", "CRD manifest file or directory of *.yaml to install (repeatable)")
	fs.StringVar(&o.nodeName, "node-name", "test-node", "name of the test kubelet's Node")
	fs.BoolVar(&o.controllerManager, "controller-manager", true, "also run kube-controller-manager if its binary is there")
	fs.BoolVar(&o.keepDir, "keep-dir", false, "keep the working directory (logs, certificates) after stopping")
	fs.DurationVar(&o.timeout, "timeout", 180*time.Second, "how long `up` waits for the cluster to be ready")
	fs.IntVar(&o.verbosity, "v", 1, "log verbosity of the Kubernetes components")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return o, nil
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: testenv up|down|supervise [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "up":
		err = up(os.Args[2:])
	case "down":
		err = down(os.Args[2:])
	case "supervise":
		err = supervise(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q (want up, down or supervise)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		os.Exit(1)
	}
}

func up(args []string) error {
	o, err := parseOptions("up", args)
	if err != nil {
		return err
	}
	if o.dir == "" {
		if o.dir, err = os.MkdirTemp("", "kubectl-mcp-cluster-"); err != nil {
			return err
		}
	} else if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return err
	}
	if o.dir, err = filepath.Abs(o.dir); err != nil {
		return err
	}
	for _, f := range []string{"cluster.json", "failed"} {
		_ = os.Remove(filepath.Join(o.dir, f))
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	logFile, err := os.Create(filepath.Join(o.dir, "supervisor.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	superArgs := append([]string{"supervise", "--dir", o.dir}, args...)
	cmd := exec.Command(self, superArgs...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own session: a Ctrl-C to the test runner's terminal reaches the runner, and the
	// supervisor follows through --watch-pid rather than dying half-way through cleanup.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(o.timeout)
	for {
		if b, err := os.ReadFile(filepath.Join(o.dir, "cluster.json")); err == nil {
			_, err = os.Stdout.Write(b)
			return err
		}
		select {
		case err := <-exited:
			return upFailed(o, fmt.Sprintf("the supervisor exited (%v)", err))
		case <-deadline:
			_ = cmd.Process.Signal(syscall.SIGTERM)
			<-exited
			return upFailed(o, fmt.Sprintf("the cluster was not ready within %s", o.timeout))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// upFailed reports why the cluster did not start, from the supervisor's files, and removes them.
func upFailed(o *options, why string) error {
	msg := why
	if b, err := os.ReadFile(filepath.Join(o.dir, "failed")); err == nil {
		msg = string(b)
	}
	msg += "\nsupervisor log:\n" + tail(filepath.Join(o.dir, "supervisor.log"), 30)
	if o.keepDir {
		msg += "\nlogs kept in " + o.dir
	} else {
		_ = os.RemoveAll(o.dir)
	}
	return fmt.Errorf("the test cluster failed to start: %s", msg)
}

func down(args []string) error {
	fs := flag.NewFlagSet("down", flag.ContinueOnError)
	dir := fs.String("dir", "", "working directory of the cluster")
	wait := fs.Duration("timeout", 30*time.Second, "how long to wait for the processes to exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join(*dir, "supervisor.pid"))
	if err != nil {
		return err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return nil
		}
		return err
	}
	deadline := time.Now().Add(*wait)
	for time.Now().Before(deadline) {
		if !alive(pid) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("supervisor %d still running after %s", pid, *wait)
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return !errors.Is(err, syscall.ESRCH)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) {
		return b[i+2] != 'Z'
	}
	return true
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func writeJSON(path string, v any, mode os.FileMode) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

type child struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{}
	err    error
}

type supervisor struct {
	o        *options
	pki      *pki
	children []*child
	died     chan *child
	stopping atomic.Bool
	log      func(format string, args ...any)
	client   *http.Client
	server   string
}

func supervise(args []string) error {
	// Children get PR_SET_PDEATHSIG, which the kernel ties to the thread that forked them: pin this
	// goroutine (which starts them all) to the main thread, which lives as long as the process.
	runtime.LockOSThread()
	o, err := parseOptions("supervise", args)
	if err != nil {
		return err
	}
	start := time.Now()
	s := &supervisor{o: o, died: make(chan *child, 8)}
	s.log = func(format string, args ...any) {
		fmt.Printf("%s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
	}
	if err := os.WriteFile(filepath.Join(o.dir, "supervisor.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return err
	}
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		sig := <-signals
		s.log("got %s", sig)
		cancel()
	}()
	if o.watchPid > 0 {
		go func() {
			for alive(o.watchPid) {
				time.Sleep(250 * time.Millisecond)
			}
			s.log("watched process %d exited", o.watchPid)
			cancel()
		}()
	}

	cluster, err := s.start(ctx)
	if err != nil {
		s.log("start failed: %v", err)
		_ = os.WriteFile(filepath.Join(o.dir, "failed"), []byte(err.Error()), 0o644)
		// `up` reads the failure and then removes the directory (unless --keep-dir).
		s.stop(keepLogs)
		return err
	}
	cluster.StartupMillis = time.Since(start).Milliseconds()
	if err := writeJSON(filepath.Join(o.dir, "cluster.json"), cluster, 0o644); err != nil {
		s.stop(keepLogs)
		return err
	}
	s.log("cluster ready in %dms at %s", cluster.StartupMillis, cluster.Server)

	select {
	case <-ctx.Done():
		s.stop(keepNothing)
	case c := <-s.died:
		s.log("%s exited unexpectedly (%v); stopping the cluster", c.name, c.err)
		_ = os.WriteFile(filepath.Join(o.dir, "failed"), []byte(c.name+" exited: "+fmt.Sprint(c.err)), 0o644)
		// The logs say why; whoever stops the cluster removes them.
		s.stop(keepAll)
	}
	return nil
}

func (s *supervisor) bin(name string) string { return filepath.Join(s.o.binDir, name) }

func (s *supervisor) spawn(name string, args ...string) (*child, error) {
	logDir := filepath.Join(s.o.dir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(logDir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(s.bin(name), args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Dir = s.o.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, exited: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		logFile.Close()
		close(c.exited)
		if !s.stopping.Load() {
			s.died <- c
		}
	}()
	s.children = append(s.children, c)
	s.log("started %s (pid %d)", name, cmd.Process.Pid)
	return c, nil
}

type keep int

const (
	keepNothing keep = iota // remove the working directory
	keepLogs                // keep supervisor.log and failed, for `up` to report
	keepAll
)

// stop ends the children, newest first, and removes the working directory, or part of it, unless
// --keep-dir.
func (s *supervisor) stop(what keep) {
	s.stopping.Store(true)
	for i := len(s.children) - 1; i >= 0; i-- {
		c := s.children[i]
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.exited:
		case <-time.After(3 * time.Second):
			s.log("%s did not exit after SIGTERM; killing it", c.name)
			_ = c.cmd.Process.Kill()
			<-c.exited
		}
		s.log("stopped %s", c.name)
	}
	s.log("stopped")
	switch {
	case s.o.keepDir || what == keepAll:
	case what == keepLogs:
		entries, _ := os.ReadDir(s.o.dir)
		for _, e := range entries {
			if e.Name() != "supervisor.log" && e.Name() != "failed" {
				_ = os.RemoveAll(filepath.Join(s.o.dir, e.Name()))
			}
		}
	default:
		_ = os.RemoveAll(s.o.dir)
	}
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitFor polls check until it returns true, the context ends, a child dies or the timeout passes.
func (s *supervisor) waitFor(ctx context.Context, what string, timeout time.Duration, check func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ok, err := check()
		if ok {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped while waiting for %s", what)
		case c := <-s.died:
			logPath := filepath.Join(s.o.dir, "logs", c.name+".log")
			return fmt.Errorf("%s exited (%v) while waiting for %s; last lines of its log:\n%s", c.name, c.err, what, tail(logPath, 20))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s (last error: %v)", timeout, what, last)
		}
	}
}

func (s *supervisor) request(method, path string, body any) (int, []byte, error) {
	var reader io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		reader = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.server+path, reader)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// create POSTs an object and accepts 409 AlreadyExists.
func (s *supervisor) create(path string, object any) error {
	code, body, err := s.request(http.MethodPost, path, object)
	if err != nil {
		return err
	}
	if code != http.StatusCreated && code != http.StatusOK && code != http.StatusConflict {
		return fmt.Errorf("POST %s: %d %s", path, code, body)
	}
	return nil
}

func (s *supervisor) start(ctx context.Context) (*Cluster, error) {
	o := s.o
	for _, name := range []string{"etcd", "kube-apiserver", "kubectl", "test-kubelet"} {
		if _, err := os.Stat(s.bin(name)); err != nil {
			return nil, fmt.Errorf("missing binary %s (run test/cluster/build.sh): %v", s.bin(name), err)
		}
	}
	withKCM := false
	if o.controllerManager {
		if _, err := os.Stat(s.bin("kube-controller-manager")); err == nil {
			withKCM = true
		}
	}

	p, err := newPKI(o.dir)
	if err != nil {
		return nil, err
	}
	s.pki = p
	loopback := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}
	serviceIP := net.ParseIP("10.0.0.1")
	requests := []certRequest{
		{name: "apiserver", cn: "kube-apiserver", server: true,
			dns: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
			ips: append([]net.IP{serviceIP}, loopback...)},
		{name: "admin", cn: "kubectl-mcp-admin", orgs: []string{"system:masters"}, client: true},
		{name: "limited", cn: "limited-user", orgs: []string{"kubectl-mcp:limited"}, client: true},
		{name: "apiserver-kubelet-client", cn: "kube-apiserver-kubelet-client", orgs: []string{"system:masters"}, client: true},
		{name: "kubelet", cn: "system:node:" + o.nodeName, orgs: []string{"system:nodes", "system:masters"}, client: true},
		{name: "kubelet-serving", cn: "system:node:" + o.nodeName, server: true, dns: []string{"localhost", o.nodeName}, ips: loopback},
		{name: "controller-manager", cn: "system:kube-controller-manager", orgs: []string{"system:masters"}, client: true},
		{name: "front-proxy-client", cn: "front-proxy-client", client: true},
	}
	for _, r := range requests {
		if err := p.issue(r); err != nil {
			return nil, err
		}
	}
	if err := p.serviceAccountKey(); err != nil {
		return nil, err
	}
	s.log("certificates written to %s", p.dir)

	etcdClient, err := freePort()
	if err != nil {
		return nil, err
	}
	etcdPeer, _ := freePort()
	apiPort, _ := freePort()
	kubeletPort, _ := freePort()
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdClient)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPeer)
	s.server = fmt.Sprintf("https://127.0.0.1:%d", apiPort)

	etcd, err := s.spawn("etcd",
		"--name=test", "--data-dir="+filepath.Join(o.dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=test="+peerURL, "--initial-cluster-state=new",
		// A throw-away store: durability buys nothing and fsync is slow on shared disks.
		"--unsafe-no-fsync", "--log-level=warn", "--quota-backend-bytes=2147483648")
	if err != nil {
		return nil, err
	}

	admissionOff := ""
	if !withKCM {
		// The ServiceAccount admission plugin wants each namespace's "default" ServiceAccount,
		// which only the controller manager creates.
		admissionOff = "ServiceAccount"
	}
	apiserverArgs := []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", apiPort),
		"--tls-cert-file=" + p.path("apiserver.crt"), "--tls-private-key-file=" + p.path("apiserver.key"),
		"--client-ca-file=" + p.path("ca.crt"),
		"--authorization-mode=Node,RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + p.path("sa.pub"),
		"--service-account-signing-key-file=" + p.path("sa.key"),
		"--service-cluster-ip-range=10.0.0.0/24",
		"--kubelet-client-certificate=" + p.path("apiserver-kubelet-client.crt"),
		"--kubelet-client-key=" + p.path("apiserver-kubelet-client.key"),
		"--kubelet-certificate-authority=" + p.path("ca.crt"),
		"--kubelet-preferred-address-types=InternalIP",
		// Request-header authentication, as for aggregated API servers; the controller manager reads it.
		"--requestheader-client-ca-file=" + p.path("ca.crt"),
		"--requestheader-allowed-names=front-proxy-client",
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file=" + p.path("front-proxy-client.crt"),
		"--proxy-client-key-file=" + p.path("front-proxy-client.key"),
		// The kubernetes Service's endpoints would name a loopback address, which validation refuses.
		"--endpoint-reconciler-type=none",
		"--allow-privileged=true",
		"--profiling=false",
		"--cert-dir=" + filepath.Join(o.dir, "apiserver-certs"),
		fmt.Sprintf("--v=%d", o.verbosity),
	}
	if admissionOff != "" {
		apiserverArgs = append(apiserverArgs, "--disable-admission-plugins="+admissionOff)
	}

	// The admin client doubles as the supervisor's own, for readiness checks and bootstrap objects.
	caPEM, _ := os.ReadFile(p.path("ca.crt"))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	adminCert, err := tls.LoadX509KeyPair(p.path("admin.crt"), p.path("admin.key"))
	if err != nil {
		return nil, err
	}
	s.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{adminCert}}}}

	// etcd must answer before the API server starts, or the server's storage checks stall it.
	etcdHealth := &http.Client{Timeout: time.Second}
	if err := s.waitFor(ctx, "etcd", 30*time.Second, func() (bool, error) {
		resp, err := etcdHealth.Get(etcdURL + "/health")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	}); err != nil {
		return nil, err
	}
	s.log("etcd ready at %s", etcdURL)
	apiserver, err := s.spawn("kube-apiserver", apiserverArgs...)
	if err != nil {
		return nil, err
	}
	if err := s.waitFor(ctx, "kube-apiserver /readyz", 120*time.Second, func() (bool, error) {
		code, body, err := s.request(http.MethodGet, "/readyz", nil)
		if err != nil {
			return false, err
		}
		if code != http.StatusOK {
			return false, fmt.Errorf("readyz %d: %s", code, body)
		}
		return true, nil
	}); err != nil {
		return nil, err
	}
	s.log("kube-apiserver ready at %s", s.server)

	dir := o.dir
	cluster := &Cluster{
		Dir: dir, Server: s.server,
		AdminKubeconfig:   filepath.Join(dir, "admin.kubeconfig"),
		LimitedKubeconfig: filepath.Join(dir, "limited.kubeconfig"),
		LimitedUser:       "limited-user", LimitedNamespace: "limited",
		NodeName: o.nodeName, KubeletPort: kubeletPort, Etcd: etcdURL,
		CAFile: p.path("ca.crt"), BinDir: o.binDir, SupervisorPid: os.Getpid(),
		Pids: map[string]int{"etcd": etcd.cmd.Process.Pid, "kube-apiserver": apiserver.cmd.Process.Pid},
	}
	kubeconfigs := []struct{ file, cert, user, ns string }{
		{cluster.AdminKubeconfig, "admin", "admin", "default"},
		{cluster.LimitedKubeconfig, "limited", "limited-user", "limited"},
		{filepath.Join(dir, "kubelet.kubeconfig"), "kubelet", "kubelet", "default"},
		{filepath.Join(dir, "controller-manager.kubeconfig"), "controller-manager", "controller-manager", "default"},
	}
	for _, k := range kubeconfigs {
		if err := p.kubeconfig(k.file, s.server, k.cert, k.user, k.ns); err != nil {
			return nil, err
		}
	}

	// The limited user may read, and only read, the "limited" namespace.
	if err := s.create("/api/v1/namespaces", map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "limited"}}); err != nil {
		return nil, err
	}
	// "view" is an aggregated role whose rules the controller manager fills in; its base part,
	// system:aggregate-to-view, is bound as well so the user can read without a controller manager.
	for binding, role := range map[string]string{"limited-user-view": "view", "limited-user-view-base": "system:aggregate-to-view"} {
		if err := s.create("/apis/rbac.authorization.k8s.io/v1/namespaces/limited/rolebindings", map[string]any{
			"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
			"metadata": map[string]any{"name": binding},
			"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
			"subjects": []any{map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "limited-user"}},
		}); err != nil {
			return nil, err
		}
	}

	// The kubelet and the controller manager start while the CRDs are applied.
	kubelet, err := s.spawn("test-kubelet",
		"--kubeconfig="+filepath.Join(dir, "kubelet.kubeconfig"),
		"--node-name="+o.nodeName, fmt.Sprintf("--listen=127.0.0.1:%d", kubeletPort),
		"--tls-cert-file="+p.path("kubelet-serving.crt"), "--tls-private-key-file="+p.path("kubelet-serving.key"),
		"--client-ca-file="+p.path("ca.crt"), fmt.Sprintf("--v=%d", o.verbosity))
	if err != nil {
		return nil, err
	}
	cluster.Pids["test-kubelet"] = kubelet.cmd.Process.Pid
	if withKCM {
		kcmPort, _ := freePort()
		kcmConfig := filepath.Join(dir, "controller-manager.kubeconfig")
		kcm, err := s.spawn("kube-controller-manager",
			"--kubeconfig="+kcmConfig,
			"--authentication-kubeconfig="+kcmConfig, "--authorization-kubeconfig="+kcmConfig,
			"--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", kcmPort),
			"--leader-elect=false",
			"--controllers="+strings.Join(controllers, ","),
			"--root-ca-file="+p.path("ca.crt"),
			"--service-account-private-key-file="+p.path("sa.key"),
			"--use-service-account-credentials=false",
			"--concurrent-gc-syncs=2",
			"--profiling=false",
			fmt.Sprintf("--v=%d", o.verbosity))
		if err != nil {
			return nil, err
		}
		cluster.Pids["kube-controller-manager"] = kcm.cmd.Process.Pid
	}

	crds, err := s.installCRDs(ctx, cluster.AdminKubeconfig)
	if err != nil {
		return nil, err
	}
	cluster.CRDs = crds

	if err := s.waitFor(ctx, "node "+o.nodeName+" Ready", 60*time.Second, func() (bool, error) {
		code, body, err := s.request(http.MethodGet, "/api/v1/nodes/"+o.nodeName, nil)
		if err != nil || code != http.StatusOK {
			return false, fmt.Errorf("%d %s %v", code, body, err)
		}
		var node struct {
			Status struct {
				Conditions []struct{ Type, Status string }
			}
		}
		if err := json.Unmarshal(body, &node); err != nil {
			return false, err
		}
		for _, c := range node.Status.Conditions {
			if c.Type == "Ready" {
				return c.Status == "True", nil
			}
		}
		return false, nil
	}); err != nil {
		return nil, err
	}
	if withKCM {
		// Pods need their namespace's "default" ServiceAccount; wait for the controller to make it.
		for _, ns := range []string{"default", "limited"} {
			if err := s.waitFor(ctx, "ServiceAccount "+ns+"/default", 60*time.Second, func() (bool, error) {
				code, _, err := s.request(http.MethodGet, "/api/v1/namespaces/"+ns+"/serviceaccounts/default", nil)
				return err == nil && code == http.StatusOK, err
			}); err != nil {
				return nil, err
			}
		}
	}
	return cluster, nil
}

// controllers run by kube-controller-manager: enough for namespaces, service accounts, workloads,
// aggregated RBAC roles and garbage collection. Left out: node lifecycle, IPAM and cloud controllers
// (the test kubelet is the only node and there is no pod network), and the Endpoints and
// EndpointSlice controllers: every Pod's IP is 127.0.0.1, which the API server refuses in
// EndpointSlices ("may not be in the loopback range"), so they would only retry and warn.
var controllers = []string{
	"namespace-controller", "serviceaccount-controller", "root-ca-certificate-publisher-controller",
	"deployment-controller", "replicaset-controller", "statefulset-controller", "daemonset-controller",
	"job-controller", "cronjob-controller", "garbage-collector-controller", "ttl-after-finished-controller",
	"clusterrole-aggregation-controller",
}

// installCRDs applies every CRD manifest named by --crd (server-side, so large CRDs fit) and waits
// until every CRD in the cluster is Established.
func (s *supervisor) installCRDs(ctx context.Context, kubeconfig string) ([]string, error) {
	var files []string
	for _, c := range s.o.crds {
		info, err := os.Stat(c)
		if err != nil {
			return nil, fmt.Errorf("CRD source %s: %w", c, err)
		}
		if !info.IsDir() {
			files = append(files, c)
			continue
		}
		for _, pattern := range []string{"*.yaml", "*.yml", "*.json"} {
			matches, _ := filepath.Glob(filepath.Join(c, pattern))
			files = append(files, matches...)
		}
	}
	if len(files) == 0 {
		return []string{}, nil
	}
	args := []string{"--kubeconfig=" + kubeconfig, "apply", "--server-side", "--force-conflicts",
		"--field-manager=testenv", "-o", "name"}
	for _, f := range files {
		args = append(args, "-f", f)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, s.bin("kubectl"), args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("kubectl apply of CRDs failed (%v): %s", err, strings.TrimSpace(stderr.String()))
	}
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		if name, ok := strings.CutPrefix(strings.TrimSpace(line), "customresourcedefinition.apiextensions.k8s.io/"); ok {
			names = append(names, name)
		}
	}
	s.log("applied %d CRDs from %d files", len(names), len(files))
	err := s.waitFor(ctx, "CRDs Established", 60*time.Second, func() (bool, error) {
		code, body, err := s.request(http.MethodGet, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", nil)
		if err != nil || code != http.StatusOK {
			return false, fmt.Errorf("%d %v", code, err)
		}
		var list struct {
			Items []struct {
				Metadata struct{ Name string }
				Status   struct {
					Conditions []struct{ Type, Status string }
				}
			}
		}
		if err := json.Unmarshal(body, &list); err != nil {
			return false, err
		}
		established := map[string]bool{}
		for _, item := range list.Items {
			for _, c := range item.Status.Conditions {
				if c.Type == "Established" && c.Status == "True" {
					established[item.Metadata.Name] = true
				}
			}
		}
		for _, n := range names {
			if !established[n] {
				return false, fmt.Errorf("CRD %s is not Established yet", n)
			}
		}
		return true, nil
	})
	return names, err
}
