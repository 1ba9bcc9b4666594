package main

import (
	"math/bits"
	"time"
)

// subBuckets is how many buckets each power of two of nanoseconds is cut into: a quantile
// is known to within 1/32 (3%) of its value, in a fixed 16 KiB whatever the run's length.
const (
	subBits    = 5
	subBuckets = 1 << subBits
)

// histogram counts latencies in log-linear buckets (exact below 32 ns).
type histogram struct {
	counts [(64 - subBits + 1) * subBuckets]uint64
	n      uint64
	max    time.Duration
}

// bucket returns the index of the bucket holding v nanoseconds.
func bucket(v uint64) int {
	if v < subBuckets {
		return int(v)
	}
	e := bits.Len64(v) - 1 // v is in [2^e, 2^(e+1))
	m := (v >> (e - subBits)) & (subBuckets - 1)
	return (e-subBits+1)*subBuckets + int(m)
}

// upper returns the largest value bucket i holds.
func upper(i int) uint64 {
	if i < subBuckets {
		return uint64(i)
	}
	e := i/subBuckets + subBits - 1
	m := uint64(i % subBuckets)
	low := (subBuckets + m) << (e - subBits)
	return low + (1 << (e - subBits)) - 1
}

func (h *histogram) add(d time.Duration) {
	d = max(d, 0)
	h.counts[bucket(uint64(d))]++
	h.n++
	h.max = max(h.max, d)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the latency below which a fraction q of the requests fell (the upper
// edge of its bucket, never more than the maximum seen); 0 when empty.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(time.Duration(upper(i)), h.max)
		}
	}
	return h.max
}
