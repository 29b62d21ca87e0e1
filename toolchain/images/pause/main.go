// pause: the process that holds a pod sandbox's namespaces open, like Kubernetes' own pause image (build/pause).
// It reaps orphaned children (it is PID 1 of the sandbox when the pod shares its PID namespace) and exits on
// SIGINT or SIGTERM. Built statically by scripts/images.sh; no registry outside is reachable for the upstream one.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
