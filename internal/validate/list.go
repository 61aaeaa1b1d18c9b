package validate

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"text/tabwriter"

	"github.com/meshcheck/meshcheck/scenario"
)

// Entry is one scenario folder of a Listing.
type Entry struct {
	// Dir is the scenario's folder (the listed folder joined with its name).
	Dir string
	// Scenario is the loaded scenario; nil when Err is set.
	Scenario *scenario.Scenario
	// Err is why the folder did not load.
	Err error
}

// Listing is the scenarios found in the sub-folders of a folder.
type Listing struct {
	// Dir is the folder listed.
	Dir string
	// Entries are its sub-folders holding a scenario.yaml, sorted by path.
	Entries []Entry
}

// Failed is the number of entries that did not load.
func (l Listing) Failed() int {
	n := 0
	for _, e := range l.Entries {
		if e.Err != nil {
			n++
		}
	}
	return n
}

// Find loads every sub-folder of dir that holds a scenario.yaml. It fails
// with an Invalid *Error when dir cannot be read or holds no scenario; a
// scenario that does not load is an Entry with Err.
func Find(dir string) (Listing, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Listing{}, &Error{Kind: Invalid, Err: fmt.Errorf("scenarios folder %s does not exist: give the folder that holds scenario folders", dir)}
		}
		return Listing{}, &Error{Kind: Invalid, Err: fmt.Errorf("reading scenarios folder %s: %w", dir, err)}
	}
	var dirs []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, e.Name(), scenario.FileName)); err == nil {
			dirs = append(dirs, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(dirs)
	if len(dirs) == 0 {
		return Listing{}, &Error{Kind: Invalid, Err: fmt.Errorf("no scenarios in %s: a scenario is a folder with a %s", dir, scenario.FileName)}
	}
	l := Listing{Dir: dir}
	for _, d := range dirs {
		s, _, err := scenario.Load(d)
		l.Entries = append(l.Entries, Entry{Dir: d, Scenario: s, Err: err})
	}
	return l, nil
}

// WriteText writes a table of the scenarios that loaded to stdout (NAME,
// STEPS, PROBES, DIR, TITLE) and the error of each that did not to stderr.
// Its error is stdout's.
func (l Listing) WriteText(stdout, stderr io.Writer) error {
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTEPS\tPROBES\tDIR\tTITLE")
	for _, e := range l.Entries {
		if e.Err != nil {
			fmt.Fprintln(stderr, e.Err)
			continue
		}
		s := e.Scenario
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", s.Metadata.Name, len(s.Steps), ProbeCount(s), e.Dir, s.Metadata.Title)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the scenarios table: %w", err)
	}
	return nil
}

// List finds the scenarios under dir (Find) and writes them (WriteText). It
// fails with an Invalid *Error when Find does or any scenario does not
// load.
func List(stdout, stderr io.Writer, dir string) error {
	l, err := Find(dir)
	if err != nil {
		return err
	}
	if err := l.WriteText(stdout, stderr); err != nil {
		return err
	}
	if n := l.Failed(); n > 0 {
		return &Error{Kind: Invalid, Err: fmt.Errorf("%s in %s did not load; run meshcheck scenarios validate on it for details", plural(n, "scenario"), dir)}
	}
	return nil
}
