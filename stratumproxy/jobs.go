package stratumproxy

import (
	"fmt"
	"sync"
	"time"

	"github.com/kilnfw/kiln/mining"
)

// JobSource supplies the jobs a Server hands out. The demo template
// (DemoSource) is one implementation; the farm proxy follows an upstream
// pool. The server asks for a job when it starts, every JobInterval, every
// BlockInterval (NewBlock true), on NewBlock, and whenever a source that
// also implements JobNotifier signals a change.
type JobSource interface {
	// Job returns the next job as notify fields. The returned JobID is the
	// source's own reference: the server hands the job out under an id of
	// its own and reports the source's id back in ServerShare.SourceJobID.
	// Clean tells the server that every earlier job is void (a new block);
	// a source that follows a pool may ignore req.NewBlock. The server
	// keeps the returned slices: the source must not modify them later.
	Job(req JobRequest) (Notify, error)
}

// JobRequest is what the server tells a JobSource when it asks for a job.
type JobRequest struct {
	// Now is the server's clock, for ntime.
	Now time.Time
	// NewBlock asks for a new block: a new prevhash and Clean set.
	NewBlock bool
	// ExtranonceSize is the number of bytes the server places between
	// Coinb1 and Coinb2 (extranonce1 plus extranonce2 sizes). A source that
	// carves an upstream extranonce appends the upstream extranonce1 to
	// Coinb1 and sizes its slot to match.
	ExtranonceSize int
}

// JobNotifier is implemented by a JobSource that learns of new jobs by
// itself (an upstream pool): the server asks for a job each time the
// channel delivers.
type JobNotifier interface {
	JobsChanged() <-chan struct{}
}

// ShareSink is implemented by a JobSource that wants every accepted share
// (the proxy forwards them upstream). Share is called on the connection's
// goroutine and must not block for long.
type ShareSink interface {
	Share(ServerShare)
}

// srvJobWindow is how many recent jobs a server keeps: at the default 30 s
// job interval that is 8 minutes, close to ckpool's 10. Older ids are
// answered "job not found".
const srvJobWindow = 16

// srvMaxSeenPerJob bounds the duplicate filter of one job; an honest miner at
// a sane difficulty sends far fewer shares per job.
const srvMaxSeenPerJob = 1 << 16

// srvJob is one job the server handed out.
type srvJob struct {
	// job holds the notify fields; the per-connection fields (extranonce1,
	// mask, difficulty) are filled in per submit.
	job         mining.Job
	sourceJobID string
	// notify is the job as sent, under the server's id.
	notify Notify
	// epoch counts clean jobs: a job whose epoch is below the current one
	// was voided by a new block.
	epoch uint64
	// notifyClean, notifyUpdate and notifyResend are the encoded notify
	// lines with clean_jobs true, as issued, and false.
	notifyClean, notifyUpdate, notifyResend []byte

	mu   sync.Mutex
	seen map[[32]byte]struct{}
}

// markSeen records an accepted share's header hash and reports whether it
// was already there.
func (j *srvJob) markSeen(hash [32]byte) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, dup := j.seen[hash]; dup {
		return true
	}
	if len(j.seen) < srvMaxSeenPerJob {
		j.seen[hash] = struct{}{}
	}
	return false
}

// srvJobBook is the window of recent jobs, newest last.
type srvJobBook struct {
	mu    sync.RWMutex
	jobs  []*srvJob
	byID  map[string]*srvJob
	epoch uint64
	seq   uint64
	// idle is set by voidAll: no job is current until the next add.
	idle bool
}

func newSrvJobBook(firstSeq uint64) *srvJobBook {
	return &srvJobBook{byID: make(map[string]*srvJob), seq: firstSeq}
}

// add turns a source's notify into a job with a fresh id, makes it current
// and evicts jobs beyond the window. The very first job is always clean.
func (b *srvJobBook) add(n Notify) *srvJob {
	b.mu.Lock()
	defer b.mu.Unlock()
	clean := n.Clean || len(b.jobs) == 0 || b.idle
	b.idle = false
	if clean {
		b.epoch++
	}
	b.seq++
	id := fmt.Sprintf("%x", b.seq)
	j := &srvJob{
		job: mining.Job{
			ID: id, PrevHash: n.PrevHash, Coinb1: n.Coinb1, Coinb2: n.Coinb2,
			Branches: n.Branches, Version: n.Version, NBits: n.NBits, NTime: n.NTime,
			Clean: clean,
		},
		sourceJobID: n.JobID,
		epoch:       b.epoch,
		seen:        make(map[[32]byte]struct{}),
	}
	n.JobID, n.Clean = id, clean
	j.notify = n
	j.notifyUpdate = EncodeNotify(n)
	n.Clean = true
	j.notifyClean = EncodeNotify(n)
	j.notifyResend = j.notifyUpdate
	if clean {
		n.Clean = false
		j.notifyResend = EncodeNotify(n)
	}
	b.jobs = append(b.jobs, j)
	b.byID[id] = j
	if len(b.jobs) > srvJobWindow {
		delete(b.byID, b.jobs[0].job.ID)
		b.jobs[0] = nil
		b.jobs = b.jobs[1:]
	}
	return j
}

// current returns the newest job, or nil before the first.
func (b *srvJobBook) current() *srvJob {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if len(b.jobs) == 0 || b.idle {
		return nil
	}
	return b.jobs[len(b.jobs)-1]
}

// lookup finds a job by id: ErrStale "job not found" when it is not in the
// window, ErrStale "stale" when a clean job came after it.
func (b *srvJobBook) lookup(id string) (*srvJob, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	j, ok := b.byID[id]
	if !ok {
		return nil, Reject(ErrStale, "job not found")
	}
	if j.epoch != b.epoch {
		return nil, Reject(ErrStale, "stale")
	}
	return j, nil
}

// known reports whether id is still in the window.
func (b *srvJobBook) known(id string) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	_, ok := b.byID[id]
	return ok
}

// voidAll makes every job stale and none current.
func (b *srvJobBook) voidAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.epoch++
	b.idle = true
}
