package loadgen

import (
	"math"
	"math/bits"
	"time"
)

// The latency histogram is log-linear, like HdrHistogram: values below
// 2^histSubBits nanoseconds get a bucket each, and every power of two above
// is split into 2^(histSubBits-1) equal buckets, so a bucket's width is at
// most 1/64 (1.6%) of its values. Its size is fixed (about 29 KiB) whatever
// the number of requests.
const (
	histSubBits = 7
	histHalf    = 1 << (histSubBits - 1)
	histBuckets = 1<<histSubBits + (63-histSubBits)*histHalf
)

// histogram counts latencies in fixed log-linear buckets.
type histogram struct {
	counts [histBuckets]uint64
	n      uint64
	sum    float64 // nanoseconds
	min    int64
	max    int64
}

// bucketOf returns the bucket of v >= 0.
func bucketOf(v int64) int {
	if v < 1<<histSubBits {
		return int(v)
	}
	msb := bits.Len64(uint64(v)) - 1 // >= histSubBits
	shift := msb - (histSubBits - 1)
	top := int(uint64(v) >> shift) // in [histHalf, 2*histHalf)
	return 1<<histSubBits + (msb-histSubBits)*histHalf + (top - histHalf)
}

// bucketRange returns the smallest and largest value of bucket i.
func bucketRange(i int) (lo, hi int64) {
	if i < 1<<histSubBits {
		return int64(i), int64(i)
	}
	j := i - 1<<histSubBits
	msb := j/histHalf + histSubBits
	top := int64(j%histHalf + histHalf)
	shift := msb - (histSubBits - 1)
	lo = top << shift
	return lo, lo + (int64(1) << shift) - 1
}

func (h *histogram) add(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.counts[bucketOf(v)]++
	h.n++
	h.sum += float64(v)
}

// quantile returns the q-quantile (0 < q <= 1): the middle of the bucket
// holding the ceil(q·n)-th smallest value, clamped to the observed range
// (the maximum itself for the largest rank).
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	switch {
	case rank >= h.n:
		return time.Duration(h.max)
	case rank < 1:
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, hi := bucketRange(i)
			mid := lo + (hi-lo)/2
			return time.Duration(min(max(mid, h.min), h.max))
		}
	}
	return time.Duration(h.max)
}

func (h *histogram) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}
