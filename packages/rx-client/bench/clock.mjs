// The clock every process of the stream benchmarks reads times on, in milliseconds: the machine's monotonic clock
// (process.hrtime, CLOCK_MONOTONIC on Linux), which all processes on one machine read alike at any instant. Not
// performance.timeOrigin + performance.now(): timeOrigin is the wall clock when a process started, and the wall clock
// is slewed against the monotonic one (NTP), so a server process started minutes after the bench process disagreed
// with it by up to a millisecond, and one run reported commit -> remote latencies below zero.
export const sharedClock = () => Number(process.hrtime.bigint()) / 1e6;
