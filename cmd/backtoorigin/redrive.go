package main

import (
	"context"
	"fmt"
	"io"
)

func runRedrive(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "backtoorigin redrive: not built yet")
	return exitUsage
}
