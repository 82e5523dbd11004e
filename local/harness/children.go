package harness

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ChildPIDs lists the live child processes of this process (Linux
// /proc/self/task/*/children), so a test or the demo can prove that every
// stand-in, node and function process it started is gone after Close,
// whoever started it.
func ChildPIDs() ([]int, error) {
	tasks, err := filepath.Glob("/proc/self/task/*/children")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			if os.IsNotExist(err) {
				continue // the thread ended meanwhile
			}
			return nil, err
		}
		for _, f := range strings.Fields(string(b)) {
			pid, err := strconv.Atoi(f)
			if err != nil {
				return nil, err
			}
			if !isZombie(pid) {
				pids = append(pids, pid)
			}
		}
	}
	return pids, nil
}

func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true // gone already
	}
	// state is the field after "(comm)"
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// ProcessName returns the command name of pid, for messages.
func ProcessName(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}
