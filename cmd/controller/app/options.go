package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/kilnfw/kiln/mining"
)

// Version is the controller's version, set at build time with
// -ldflags "-X github.com/kilnfw/kiln/cmd/controller/app.Version=…".
var Version = "0.1.0-dev"

// options are the controller's command-line settings. The names of --data,
// --http, --board, --pool, --threads and --version are a contract that
// fleet tools rely on.
type options struct {
	data        string
	http        string
	board       string
	pools       []string
	algo        mining.Algorithm
	threads     int
	gpuDevice   int
	version     bool
	logLevel    string
	protocolLog bool

	demoDifficulty float64
	demoAlgo       mining.Algorithm
	demoJobEvery   time.Duration
	failbackGrace  time.Duration
	noWorkTimeout  time.Duration
	rejectRun      int
	suggestDiff    float64

	chip           string
	serials        []string
	chipDifficulty float64
	frequency      float64
	simChains      int
	simChips       int
	simScale       float64

	cgminerAPI    string
	cgminerAllow  string
	metricsPublic bool
	recoverAfter  time.Duration
	slots         string
	firmwareKey   string
	firmwareBoard string
	healthTimeout time.Duration

	stratumListen  string
	proxyWorkers   []string
	allowNets      []string
	downstreamDiff float64
	minDiff        float64
	shareInterval  time.Duration
	maxConns       int
	maxConnsPerIP  int
}

func parseOptions(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("controller", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.data, "data", "data", "directory for the database and state")
	fs.StringVar(&o.http, "http", "127.0.0.1:8080", "address of the web UI and REST API")
	fs.StringVar(&o.cgminerAPI, "cgminer-api", ":4028", `address of the cgminer-compatible API ("" turns it off)`)
	fs.StringVar(&o.cgminerAllow, "cgminer-allow", "", "cgminer API access list, [W:|R:]addr[/prefix],... (default: read-only for all, privileged from loopback)")
	fs.BoolVar(&o.metricsPublic, "metrics-public", false, "serve /metrics without authentication")
	fs.StringVar(&o.slots, "slots", "", "directory of the A/B firmware slots (default DATA/slots)")
	fs.StringVar(&o.firmwareKey, "firmware-key", defaultFirmwareKey, "public key (minisign format) firmware images must be signed with")
	fs.StringVar(&o.firmwareBoard, "firmware-board", "", "board name firmware images must list (default: the board kind)")
	fs.DurationVar(&o.healthTimeout, "health-timeout", 5*time.Minute, "how long a freshly upgraded slot has to start mining before it is rolled back")
	fs.DurationVar(&o.recoverAfter, "recover-after", 10*time.Second, "how long the cause of a protective stop must stay cleared before the chain restarts")
	fs.StringVar(&o.board, "board", "auto", "hashing hardware: auto (detect, else sim), sim, cpu, usb or a board profile name")
	fs.StringVar(&o.chip, "chip", "", "chip model for usb and sim boards: BM1397, BM1366, BM1368 or BM1370")
	fs.Func("serial", "serial device of a chain (repeat per chain), e.g. /dev/ttyUSB0", func(s string) error {
		o.serials = append(o.serials, s)
		return nil
	})
	fs.Float64Var(&o.chipDifficulty, "chip-difficulty", 0, "chip ticket difficulty (0: 256 on hardware, sized for the CPU in simulation; below 1 only in simulation)")
	fs.Float64Var(&o.frequency, "frequency", 0, "chip hash clock in MHz (0: the board's or chip's default)")
	fs.IntVar(&o.simChains, "sim-chains", 1, "chains on the simulated board")
	fs.IntVar(&o.simChips, "sim-chips", 1, "chips per chain on the simulated board")
	fs.Float64Var(&o.simScale, "sim-scale", 0, "divide the simulated chips' hash rate by this (0: a few MH/s of real SHA-256d per chain)")
	fs.Func("pool", "pool URL stratum+tcp://USER:PASS@HOST:PORT (repeat, in priority order; replaces the saved list)", func(s string) error {
		o.pools = append(o.pools, s)
		return nil
	})
	fs.Func("algo", "proof-of-work algorithm of the --pool pools: sha256d or scrypt (default sha256d)", func(s string) error {
		a, err := mining.ParseAlgorithm(s)
		o.algo = a
		return err
	})
	fs.Func("demo-algo", "algorithm of the embedded demo pool: sha256d or scrypt (default: --algo)", func(s string) error {
		a, err := mining.ParseAlgorithm(s)
		o.demoAlgo = a
		return err
	})
	fs.IntVar(&o.threads, "threads", 0, "CPU backend worker threads (0: one per core)")
	fs.IntVar(&o.gpuDevice, "gpu-device", 0, "OpenCL device index for --board gpu (build with -tags opencl)")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.BoolVar(&o.protocolLog, "protocol-log", false, "log every Stratum line sent and received")
	fs.Float64Var(&o.demoDifficulty, "demo-difficulty", 0, "share difficulty of the embedded demo pool (0: sized for the hardware)")
	fs.DurationVar(&o.demoJobEvery, "demo-job-interval", 30*time.Second, "how often the embedded demo pool sends a new job")
	fs.DurationVar(&o.failbackGrace, "failback-grace", 60*time.Second, "how long a higher-priority pool must stay healthy before switching back to it")
	fs.DurationVar(&o.noWorkTimeout, "no-work-timeout", 120*time.Second, "fail over when the active pool sends no new job for this long")
	fs.IntVar(&o.rejectRun, "reject-run", 10, "fail over after this many consecutive rejected shares")
	fs.Float64Var(&o.suggestDiff, "suggest-difficulty", 0, "share difficulty to ask pools for with mining.suggest_difficulty (0: don't ask)")
	fs.StringVar(&o.stratumListen, "stratum-listen", "", "serve miners downstream on this address (farm proxy beside the boards)")
	fs.StringVar(&o.stratumListen, "listen", "", "controller proxy: address miners connect to (same as --stratum-listen)")
	fs.Func("worker", "proxy: allow this downstream worker, NAME:PASSWORD (repeat; none: any name is accepted)", func(s string) error {
		o.proxyWorkers = append(o.proxyWorkers, s)
		return nil
	})
	fs.Func("allow", "proxy: accept miners only from this network, CIDR (repeat)", func(s string) error {
		o.allowNets = append(o.allowNets, s)
		return nil
	})
	fs.Float64Var(&o.downstreamDiff, "downstream-difficulty", 0, "proxy: starting share difficulty for miners (0: the pool's)")
	fs.Float64Var(&o.minDiff, "min-difficulty", 0, "proxy: vardiff never goes below this (0: 1)")
	fs.DurationVar(&o.shareInterval, "share-interval", 10*time.Second, "proxy: vardiff aims at one share per miner this often")
	fs.IntVar(&o.maxConns, "max-conns", 20000, "proxy: most downstream connections in total")
	fs.IntVar(&o.maxConnsPerIP, "max-conns-per-ip", 256, "proxy: most downstream connections from one address")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	o.algo = o.algo.Canonical()
	if o.demoAlgo == "" {
		o.demoAlgo = o.algo
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.simChains < 1 || o.simChips < 1 || o.simChips > 256 {
		return nil, errors.New("--sim-chains must be >= 1 and --sim-chips 1..256")
	}
	if o.chipDifficulty < 0 || o.frequency < 0 || o.simScale < 0 {
		return nil, errors.New("--chip-difficulty, --frequency and --sim-scale must be >= 0")
	}
	if o.suggestDiff < 0 {
		return nil, errors.New("--suggest-difficulty must be >= 0")
	}
	if o.threads < 0 {
		return nil, errors.New("--threads must be >= 0")
	}
	if _, err := parseLevel(o.logLevel); err != nil {
		return nil, err
	}
	return o, nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return 0, fmt.Errorf("--log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}
