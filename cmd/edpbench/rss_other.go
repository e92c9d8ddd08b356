//go:build !unix

package main

import (
	"os"
	"time"
)

// peakRSS is unknown where the OS has no rusage.
func peakRSS(*os.ProcessState) int64 { return 0 }

// selfCPU is unknown where the OS has no rusage.
func selfCPU() time.Duration { return 0 }
