package main

import (
	"fmt"
	"os"
	"time"
)

// generators are hidden commands, for 'make install': not in 'sclogon help',
// they write the man pages and completions from the command table, so a
// command added later gets its page and its completion without more work.
var generators = map[string]func(s stdio, args []string) int{
	"gen-man":        runGenMan,
	"gen-completion": runGenCompletion,
}

// runGenMan is 'sclogon gen-man DIR': sclogon.1 and sclogon-CMD.1 into DIR.
func runGenMan(s stdio, args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(s.errOut, "usage: sclogon gen-man DIR")
		return exitUsage
	}
	date, err := manDate(os.Getenv("SOURCE_DATE_EPOCH"), time.Now())
	if err == nil {
		err = writeManPages(args[0], date)
	}
	if err != nil {
		fmt.Fprintf(s.errOut, "sclogon: error: %v\n", err)
		return exitFail
	}
	return exitOK
}

// runGenCompletion is 'sclogon gen-completion bash|zsh': the script on stdout.
func runGenCompletion(s stdio, args []string) int {
	if len(args) != 1 || (args[0] != "bash" && args[0] != "zsh") {
		fmt.Fprintln(s.errOut, "usage: sclogon gen-completion bash|zsh")
		return exitUsage
	}
	var err error
	if args[0] == "bash" {
		err = writeBashCompletion(s.out, completables())
	} else {
		err = writeZshCompletion(s.out, completables())
	}
	if err != nil {
		fmt.Fprintf(s.errOut, "sclogon: error: %v\n", err)
		return exitFail
	}
	return exitOK
}
