// Command test-kubelet is a kubelet for tests: it registers a Node, reports the Pods bound to it as
// Running and Ready with IP 127.0.0.1, and serves the kubelet port-forward API (through the kubelet's
// own streaming library, k8s.io/cri-streaming) by connecting each forwarded pod port to a process on
// the loopback interface. It runs no containers.
//
// Port mapping: a Pod annotation `test.kubectl-mcp.io/forward-<containerPort>: 127.0.0.1:<localPort>`
// sends forwarded connections for that port to the given loopback address; without it, pod port P
// goes to 127.0.0.1:P.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	listersv1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/cri-streaming/pkg/streaming/portforward"
	"k8s.io/klog/v2"
	"k8s.io/streaming/pkg/httpstream/wsstream"
	"k8s.io/utils/ptr"
)

// ForwardAnnotationPrefix prefixes the Pod annotation that maps a container port to a local address.
const ForwardAnnotationPrefix = "test.kubectl-mcp.io/forward-"

// podIP is what every Pod on this node reports, so that forwarded ports land on the host's loopback.
const podIP = "127.0.0.1"

type kubelet struct {
	client   kubernetes.Interface
	nodeName string
	port     int
	schedule bool
	pods     listersv1.PodLister
	queue    workqueue.TypedRateLimitingInterface[string]
}

func main() {
	var (
		kubeconfig = flag.String("kubeconfig", "", "kubeconfig of the API server")
		nodeName   = flag.String("node-name", "test-node", "name of the Node to register")
		listen     = flag.String("listen", "127.0.0.1:10250", "loopback address of the kubelet API (TLS)")
		certFile   = flag.String("tls-cert-file", "", "serving certificate of the kubelet API")
		keyFile    = flag.String("tls-private-key-file", "", "key of the serving certificate")
		clientCA   = flag.String("client-ca-file", "", "CA that signs the API server's kubelet client certificate")
		schedule   = flag.Bool("schedule", true, "bind Pods that have no spec.nodeName to this node (there is no scheduler)")
	)
	klog.InitFlags(nil)
	flag.Parse()

	host, portText, err := net.SplitHostPort(*listen)
	if err != nil {
		klog.Fatalf("bad --listen %q: %v", *listen, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		klog.Fatalf("--listen must be a loopback address, got %q", *listen)
	}
	port, _ := strconv.Atoi(portText)

	config, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		klog.Fatalf("reading kubeconfig: %v", err)
	}
	config.UserAgent = "test-kubelet"
	config.QPS, config.Burst = 100, 200
	client := kubernetes.NewForConfigOrDie(config)

	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer cancel()

	k := &kubelet{
		client:   client,
		nodeName: *nodeName,
		port:     port,
		schedule: *schedule,
		queue: workqueue.NewTypedRateLimitingQueue(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](50*time.Millisecond, 5*time.Second)),
	}

	server, err := k.newServer(*listen, *certFile, *keyFile, *clientCA)
	if err != nil {
		klog.Fatalf("kubelet API: %v", err)
	}
	listener, err := net.Listen("tcp", *listen)
	if err != nil {
		klog.Fatalf("kubelet API: %v", err)
	}
	go func() {
		if err := server.ServeTLS(listener, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			klog.Fatalf("kubelet API: %v", err)
		}
	}()

	if err := k.registerNode(ctx); err != nil {
		klog.Fatalf("registering node %s: %v", k.nodeName, err)
	}
	go k.heartbeat(ctx)

	// With scheduling on, watch every Pod so unbound ones can be bound; otherwise only ours.
	tweak := func(o *metav1.ListOptions) {}
	if !k.schedule {
		tweak = func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", k.nodeName).String()
		}
	}
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTweakListOptions(tweak))
	podInformer := factory.Core().V1().Pods()
	k.pods = podInformer.Lister()
	_, _ = podInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    k.enqueue,
		UpdateFunc: func(_, obj any) { k.enqueue(obj) },
	})
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), podInformer.Informer().HasSynced) {
		klog.Fatal("pod cache did not sync")
	}
	go func() {
		for k.processNext(ctx) {
		}
	}()
	fmt.Printf("test-kubelet: node %s ready, kubelet API on https://%s\n", k.nodeName, *listen)

	<-ctx.Done()
	k.queue.ShutDown()
	shutdownCtx, stop := context.WithTimeout(context.Background(), 2*time.Second)
	defer stop()
	_ = server.Shutdown(shutdownCtx)
}

func (k *kubelet) enqueue(obj any) {
	if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
		k.queue.Add(key)
	}
}

func (k *kubelet) processNext(ctx context.Context) bool {
	key, quit := k.queue.Get()
	if quit {
		return false
	}
	defer k.queue.Done(key)
	if err := k.syncPod(ctx, key); err != nil {
		if !apierrors.IsNotFound(err) {
			klog.V(2).Infof("syncing pod %s: %v (retrying)", key, err)
			k.queue.AddRateLimited(key)
			return true
		}
	}
	k.queue.Forget(key)
	return true
}

// syncPod plays the kubelet's part for one Pod: bind it if unscheduled, finish its deletion, or
// report it Running and Ready.
func (k *kubelet) syncPod(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := k.pods.Pods(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	switch {
	case pod.Spec.NodeName == "":
		if !k.schedule || (pod.Spec.SchedulerName != "" && pod.Spec.SchedulerName != corev1.DefaultSchedulerName) ||
			pod.DeletionTimestamp != nil {
			return nil
		}
		return k.client.CoreV1().Pods(namespace).Bind(ctx, &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: namespace, UID: pod.UID},
			Target:     corev1.ObjectReference{Kind: "Node", Name: k.nodeName},
		}, metav1.CreateOptions{})
	case pod.Spec.NodeName != k.nodeName:
		return nil
	case pod.DeletionTimestamp != nil:
		// Graceful deletion waits for the kubelet to confirm the containers are gone; there are none.
		err := k.client.CoreV1().Pods(namespace).Delete(ctx, name, metav1.DeleteOptions{
			GracePeriodSeconds: ptr.To[int64](0),
			Preconditions:      &metav1.Preconditions{UID: &pod.UID},
		})
		if apierrors.IsConflict(err) {
			return nil
		}
		return err
	case isRunningAndReady(pod):
		return nil
	}
	updated := pod.DeepCopy()
	updated.Status = runningStatus(pod)
	_, err = k.client.CoreV1().Pods(namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	if err == nil {
		klog.V(1).Infof("pod %s is Running", key)
	}
	return err
}

func isRunningAndReady(pod *corev1.Pod) bool {
	if pod.Status.Phase != corev1.PodRunning || pod.Status.PodIP != podIP ||
		len(pod.Status.ContainerStatuses) != len(pod.Spec.Containers) {
		return false
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func runningStatus(pod *corev1.Pod) corev1.PodStatus {
	now := metav1.Now()
	start := now
	if pod.Status.StartTime != nil {
		start = *pod.Status.StartTime
	}
	condition := func(t corev1.PodConditionType) corev1.PodCondition {
		return corev1.PodCondition{Type: t, Status: corev1.ConditionTrue, LastTransitionTime: now}
	}
	status := corev1.PodStatus{
		Phase:    corev1.PodRunning,
		HostIP:   podIP,
		HostIPs:  []corev1.HostIP{{IP: podIP}},
		PodIP:    podIP,
		PodIPs:   []corev1.PodIP{{IP: podIP}},
		QOSClass: pod.Status.QOSClass,
		Conditions: []corev1.PodCondition{
			condition(corev1.PodReadyToStartContainers), condition(corev1.PodInitialized),
			condition(corev1.PodReady), condition(corev1.ContainersReady), condition(corev1.PodScheduled),
		},
		StartTime: &start,
	}
	if status.QOSClass == "" {
		status.QOSClass = corev1.PodQOSBestEffort
	}
	for _, c := range pod.Spec.InitContainers {
		status.InitContainerStatuses = append(status.InitContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: c.Image, Ready: true,
			ContainerID: "test://" + string(pod.UID) + "/" + c.Name,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: 0, Reason: "Completed", StartedAt: start, FinishedAt: start}},
		})
	}
	for _, c := range pod.Spec.Containers {
		status.ContainerStatuses = append(status.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: c.Image, Ready: true, Started: ptr.To(true),
			ContainerID: "test://" + string(pod.UID) + "/" + c.Name,
			State:       corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: start}},
		})
	}
	return status
}

func (k *kubelet) nodeStatus() corev1.NodeStatus {
	now := metav1.Now()
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("8"),
		corev1.ResourceMemory: resource.MustParse("16Gi"),
		corev1.ResourcePods:   resource.MustParse("250"),
	}
	cond := func(t corev1.NodeConditionType, s corev1.ConditionStatus, reason string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: t, Status: s, Reason: reason, LastHeartbeatTime: now, LastTransitionTime: now}
	}
	return corev1.NodeStatus{
		Capacity:    capacity,
		Allocatable: capacity,
		Phase:       corev1.NodeRunning,
		Conditions: []corev1.NodeCondition{
			cond(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady"),
			cond(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory"),
			cond(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure"),
			cond(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID"),
		},
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: podIP},
			{Type: corev1.NodeHostName, Address: k.nodeName},
		},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(k.port)}},
		NodeInfo: corev1.NodeSystemInfo{
			KubeletVersion:          "v1.37.2",
			ContainerRuntimeVersion: "test://0.0.0",
			OperatingSystem:         "linux",
			Architecture:            goruntime.GOARCH,
			OSImage:                 "kubectl-mcp test kubelet",
			KernelVersion:           kernelVersion(),
		},
	}
}

func (k *kubelet) registerNode(ctx context.Context) error {
	nodes := k.client.CoreV1().Nodes()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name: k.nodeName,
		Labels: map[string]string{
			"kubernetes.io/hostname": k.nodeName,
			"kubernetes.io/os":       "linux",
			"kubernetes.io/arch":     goruntime.GOARCH,
		},
	}}
	var err error
	for attempt := 0; attempt < 50; attempt++ {
		_, err = nodes.Create(ctx, node, metav1.CreateOptions{})
		if err == nil || apierrors.IsAlreadyExists(err) {
			err = nil
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	return k.updateNodeStatus(ctx)
}

func (k *kubelet) updateNodeStatus(ctx context.Context) error {
	nodes := k.client.CoreV1().Nodes()
	current, err := nodes.Get(ctx, k.nodeName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	current.Status = k.nodeStatus()
	_, err = nodes.UpdateStatus(ctx, current, metav1.UpdateOptions{})
	return err
}

// heartbeat renews the node Lease and status, as a kubelet does, so a node lifecycle controller (if
// one runs) keeps the node Ready.
func (k *kubelet) heartbeat(ctx context.Context) {
	leases := k.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	ticker := time.NewTicker(10 * time.Second)
	defer ticker.Stop()
	for n := 0; ; n++ {
		now := metav1.NewMicroTime(time.Now())
		lease, err := leases.Get(ctx, k.nodeName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			_, err = leases.Create(ctx, &coordinationv1.Lease{
				ObjectMeta: metav1.ObjectMeta{Name: k.nodeName},
				Spec: coordinationv1.LeaseSpec{
					HolderIdentity: ptr.To(k.nodeName), LeaseDurationSeconds: ptr.To[int32](40), RenewTime: &now,
				},
			}, metav1.CreateOptions{})
		} else if err == nil {
			lease.Spec.RenewTime = &now
			_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
		}
		if err != nil && ctx.Err() == nil {
			klog.V(2).Infof("renewing lease: %v", err)
		}
		if n%4 == 3 {
			if err := k.updateNodeStatus(ctx); err != nil && ctx.Err() == nil {
				klog.V(2).Infof("updating node status: %v", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

func (k *kubelet) newServer(addr, certFile, keyFile, clientCAFile string) (*http.Server, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(clientCAFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("no certificates in %s", clientCAFile)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("/portForward/", k.servePortForward)
	for _, path := range []string{"/exec/", "/attach/", "/run/"} {
		verb := strings.Trim(path, "/")
		mux.HandleFunc(path, func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "the test kubelet runs no containers, so "+verb+" is not supported", http.StatusNotImplemented)
		})
	}
	mux.HandleFunc("/containerLogs/", func(w http.ResponseWriter, _ *http.Request) {
		// There are no containers, so no output; an empty log is what a silent container shows.
		w.Header().Set("Content-Type", "text/plain")
	})
	return &http.Server{
		Addr:    addr,
		Handler: mux,
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{cert},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    pool,
			MinVersion:   tls.VersionTLS12,
			// The SPDY upgrade needs HTTP/1.1.
			NextProtos: []string{"http/1.1"},
		},
		ReadHeaderTimeout: 30 * time.Second,
	}, nil
}

// servePortForward serves /portForward/{namespace}/{pod}[/{uid}], the path the API server's
// pods/portforward subresource proxies to, for SPDY and for WebSocket (v4.channel.k8s.io) clients.
func (k *kubelet) servePortForward(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/portForward/"), "/"), "/")
	if len(parts) < 2 || len(parts) > 3 {
		http.Error(w, "expected /portForward/{namespace}/{pod}[/{uid}]", http.StatusNotFound)
		return
	}
	pod, err := k.pods.Pods(parts[0]).Get(parts[1])
	if err != nil || pod.Spec.NodeName != k.nodeName || (len(parts) == 3 && string(pod.UID) != parts[2]) {
		http.Error(w, "pod does not exist", http.StatusNotFound)
		return
	}
	opts, err := portforward.NewV4Options(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	transport := "SPDY (" + r.Header.Get("X-Stream-Protocol-Version") + ")"
	if wsstream.IsWebSocketRequest(r) {
		transport = "WebSocket (" + r.Header.Get("Sec-WebSocket-Protocol") + ")"
	}
	klog.V(1).Infof("port-forward to pod %s/%s over %s", pod.Namespace, pod.Name, transport)
	portforward.ServePortForward(w, r, k, pod.Namespace+"/"+pod.Name, string(pod.UID), opts,
		4*time.Hour, 30*time.Second, portforward.SupportedProtocols)
}

// forwardTarget is the loopback address a Pod's port is forwarded to.
func forwardTarget(pod *corev1.Pod, port int32) (string, error) {
	target, ok := pod.Annotations[ForwardAnnotationPrefix+strconv.Itoa(int(port))]
	if !ok {
		return net.JoinHostPort(podIP, strconv.Itoa(int(port))), nil
	}
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		return "", fmt.Errorf("annotation %s%d of pod %s/%s: %v", ForwardAnnotationPrefix, port, pod.Namespace, pod.Name, err)
	}
	if ip := net.ParseIP(host); (ip == nil && host != "localhost") || (ip != nil && !ip.IsLoopback()) {
		return "", fmt.Errorf("annotation %s%d of pod %s/%s: %q is not a loopback address", ForwardAnnotationPrefix, port, pod.Namespace, pod.Name, target)
	}
	return target, nil
}

// PortForward implements portforward.PortForwarder: it joins the stream to a TCP connection to the
// pod port's local target, as a container runtime joins it to the pod's network namespace.
func (k *kubelet) PortForward(ctx context.Context, name string, uid string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	namespace, podName, _ := strings.Cut(name, "/")
	pod, err := k.pods.Pods(namespace).Get(podName)
	if err != nil {
		return fmt.Errorf("pod %s: %v", name, err)
	}
	if string(pod.UID) != uid {
		return fmt.Errorf("pod %s was replaced (uid %s, want %s)", name, pod.UID, types.UID(uid))
	}
	target, err := forwardTarget(pod, port)
	if err != nil {
		return err
	}
	var dialer net.Dialer
	dialCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	conn, err := dialer.DialContext(dialCtx, "tcp", target)
	cancel()
	if err != nil {
		return fmt.Errorf("failed to connect to %s for port %d of pod %s: %v", target, port, name, err)
	}
	defer conn.Close()

	fromRemote := make(chan struct{})
	go func() {
		// Client finished sending: half-close so the local server sees EOF and can still answer.
		_, _ = io.Copy(conn, stream)
		if tcp, ok := conn.(*net.TCPConn); ok {
			_ = tcp.CloseWrite()
		}
	}()
	go func() {
		_, _ = io.Copy(stream, conn)
		close(fromRemote)
	}()
	select {
	case <-fromRemote:
	case <-ctx.Done():
	}
	return nil
}

func kernelVersion() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}
