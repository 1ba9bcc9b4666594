package admin

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Sample is the number of licences held at a time.
type Sample struct {
	At   time.Time `json:"at"`
	Used int       `json:"used"`
}

// History keeps the licences held over the last Span, one Sample per Every, for the
// console's chart. Open starts sampling; Close stops it and waits.
type History struct {
	read  func(ctx context.Context) (int, error)
	now   func() time.Time
	every time.Duration
	span  time.Duration
	log   *slog.Logger

	mu      sync.Mutex
	samples []Sample

	stop chan struct{}
	done chan struct{}
}

// HistoryConfig sets a History up. Read is required.
type HistoryConfig struct {
	Read  func(ctx context.Context) (int, error) // licences held now
	Now   func() time.Time                       // default time.Now
	Every time.Duration                          // default 30s
	Span  time.Duration                          // default 1h
	Log   *slog.Logger
}

// NewHistory returns a History that has not started sampling.
func NewHistory(cfg HistoryConfig) *History {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Every <= 0 {
		cfg.Every = 30 * time.Second
	}
	if cfg.Span <= 0 {
		cfg.Span = time.Hour
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &History{read: cfg.Read, now: cfg.Now, every: cfg.Every, span: cfg.Span, log: cfg.Log}
}

// Open takes a first sample and starts sampling every Every.
func (h *History) Open() {
	h.stop, h.done = make(chan struct{}), make(chan struct{})
	h.Sample(context.Background())
	go func() {
		defer close(h.done)
		t := time.NewTicker(h.every)
		defer t.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-t.C:
				h.Sample(context.Background())
			}
		}
	}()
}

// Close stops sampling and waits for the sampler.
func (h *History) Close() error {
	if h.stop != nil {
		close(h.stop)
		<-h.done
		h.stop = nil
	}
	return nil
}

// Sample records the licences held now, and forgets samples older than Span.
func (h *History) Sample(ctx context.Context) {
	used, err := h.read(ctx)
	if err != nil {
		h.log.Warn("licence history: cannot read the licences held", "err", err)
		return
	}
	h.Add(Sample{At: h.now(), Used: used})
}

// Add records s (samples are kept in the order they are added).
func (h *History) Add(s Sample) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.samples = append(h.samples, s)
	cut := 0
	for cut < len(h.samples) && s.At.Sub(h.samples[cut].At) > h.span {
		cut++
	}
	if cut > 0 {
		h.samples = append(h.samples[:0], h.samples[cut:]...)
	}
}

// Samples returns the samples of the last Span, oldest first.
func (h *History) Samples() []Sample {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Sample(nil), h.samples...)
}
