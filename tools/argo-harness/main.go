// Command argo-harness runs Argo Workflows' own workflow-controller in-process, with no
// Kubernetes: the controller works against client-go's in-memory fake clientsets, a process
// kubelet runs each pod's main container as a local process, and argo-server's REST API for
// Workflows is served in front of the same stores.
//
// Usage:
//
//	argo-harness --listen 127.0.0.1:0 [--token T | --token-file F] [--volume CLAIM=DIR]...
//	             [--tls-cert C --tls-key K] [--max-parallel N] [--scratch DIR] [-v]
//
// It prints "argo-harness listening on <URL>" once it accepts requests, and exits on SIGTERM,
// SIGINT or when its parent process dies.
package main

import (
	"context"
	"crypto/tls"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/argoproj/argo-workflows/v4/util/logging"
	"github.com/argoproj/argo-workflows/v4/workflow/controller"
)

const (
	controllerNamespace = "argo"
	configMapName       = "workflow-controller-configmap"
	argoVersion         = "v4.0.5"
)

//go:embed controller-config.yaml
var defaultControllerConfig string

type claimFlag map[string]string

func (c claimFlag) String() string { return fmt.Sprint(map[string]string(c)) }

func (c claimFlag) Set(text string) error {
	claim, dir, ok := strings.Cut(text, "=")
	if !ok || claim == "" || !strings.HasPrefix(dir, "/") {
		return fmt.Errorf("expected CLAIM=/ABSOLUTE/DIR, got %q", text)
	}
	c[claim] = dir
	return nil
}

type options struct {
	listen      string
	token       string
	tokenFile   string
	claims      claimFlag
	tlsCert     string
	tlsKey      string
	maxParallel int
	scratch     string
	config      string
	verbose     bool
}

func parseFlags(args []string) (*options, error) {
	o := &options{claims: claimFlag{}}
	fs := flag.NewFlagSet("argo-harness", flag.ContinueOnError)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:2746", "HOST:PORT of argo-server's REST API")
	fs.StringVar(&o.token, "token", "", "bearer token every request must carry")
	fs.StringVar(&o.tokenFile, "token-file", "", "file holding it (read per request)")
	fs.Var(o.claims, "volume", "CLAIM=DIR: local directory behind a PersistentVolumeClaim (repeatable)")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "serve HTTPS with this certificate (PEM)")
	fs.StringVar(&o.tlsKey, "tls-key", "", "and this key (PEM)")
	fs.IntVar(&o.maxParallel, "max-parallel", 0, "most pods running at once (the node's capacity; 0: no limit)")
	fs.StringVar(&o.scratch, "scratch", "", "directory for pod logs and emptyDir volumes (default: a temporary one)")
	fs.StringVar(&o.config, "controller-config", "", "YAML file: the workflow-controller ConfigMap's `config` key")
	fs.BoolVar(&o.verbose, "v", false, "log the controller and every pod")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if o.token != "" && o.tokenFile != "" {
		return nil, errors.New("--token and --token-file exclude each other")
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	return o, nil
}

// controllerEnv are Argo's knobs for a test cluster: react fast, and do not wait minutes for a
// deleted pod's task result before retrying its node. Argo reads some of them while its packages
// initialise, so the harness sets them by executing itself again.
var controllerEnv = map[string]string{
	"DEFAULT_REQUEUE_TIME":          "1s",
	"RECENTLY_DELETED_POD_DURATION": "2s",
	// A pod missing this soon after its node started is created again rather than failed (a
	// grace period for informer lag, 10s by default; the harness's informers are in memory).
	"RECENTLY_STARTED_POD_DURATION": "1s",
}

func withControllerEnv() {
	if os.Getenv("ARGO_HARNESS_EXEC") == "1" {
		return
	}
	env := append(os.Environ(), "ARGO_HARNESS_EXEC=1")
	for name, value := range controllerEnv {
		if _, set := os.LookupEnv(name); !set {
			env = append(env, name+"="+value)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	_ = syscall.Exec(exe, os.Args, env)
}

func main() {
	withControllerEnv()
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "argo-harness:", err)
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "argo-harness:", err)
		os.Exit(1)
	}
}

// exitWithParent cancels when the process that started the harness is gone.
func exitWithParent(ctx context.Context, cancel context.CancelFunc) {
	parent := os.Getppid()
	ticker := time.NewTicker(500 * time.Millisecond)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			if os.Getppid() != parent {
				cancel()
				return
			}
		}
	}
}

func run(o *options) error {
	level := logging.Warn
	var logOut io.Writer = io.Discard
	if o.verbose {
		level = logging.Info
		logOut = os.Stderr
	}
	argoLogger := logging.NewSlogLoggerCustom(level, logging.Text, logOut)
	ctx := logging.WithLogger(context.Background(), argoLogger)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		select {
		case <-signals:
			cancel()
		case <-ctx.Done():
		}
	}()
	go exitWithParent(ctx, cancel)

	scratch := o.scratch
	if scratch == "" {
		dir, err := os.MkdirTemp("", "argo-harness-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		scratch = dir
	}
	logf := logger(o.verbose)
	stores := newStores()
	kubelet := newKubelet(stores, o.claims, scratch, o.maxParallel, 2*time.Second, logf)

	// The controller's own API calls that bypass the clientsets (dynamic informer, exec).
	kubeAPI, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	baseContext := func(net.Listener) context.Context { return ctx }
	kubeServer := &http.Server{Handler: &apiServer{stores: stores, kubelet: kubelet, logf: logf}, ReadHeaderTimeout: 10 * time.Second, BaseContext: baseContext}
	go func() { _ = kubeServer.Serve(kubeAPI) }()
	defer kubeServer.Close()

	config := defaultControllerConfig
	if o.config != "" {
		data, err := os.ReadFile(o.config)
		if err != nil {
			return err
		}
		config = string(data)
	}
	_, err = stores.Kube.CoreV1().ConfigMaps(controllerNamespace).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: configMapName, Namespace: controllerNamespace},
		Data:       map[string]string{"config": config},
	}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	restConfig := &rest.Config{Host: "http://" + kubeAPI.Addr().String(), QPS: 1000, Burst: 1000}
	wfc, err := controller.NewWorkflowController(ctx, restConfig, stores.Kube, stores.Workflow,
		controllerNamespace, "", "quay.io/argoproj/argoexec:"+argoVersion, "IfNotPresent", "text", configMapName, false)
	if err != nil {
		return fmt.Errorf("workflow-controller: %w", err)
	}
	go wfc.Run(ctx, 4, 1, 2, 1, 1)
	go kubelet.Run(ctx)

	listener, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	f := &front{stores: stores, kubelet: kubelet, token: tokenSource(o.token, o.tokenFile), version: argoVersion, logf: logf}
	server := &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second, BaseContext: baseContext}
	scheme := "http"
	if o.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return err
		}
		server.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		listener = tls.NewListener(listener, server.TLSConfig)
		scheme = "https"
	}
	go func() { _ = server.Serve(listener) }()
	fmt.Printf("argo-harness listening on %s://%s\n", scheme, listener.Addr())

	<-ctx.Done()
	shutdown, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	_ = server.Shutdown(shutdown)
	kubelet.wait()
	return nil
}
