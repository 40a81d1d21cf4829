package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// display is how a command prints for a person: colours and the
// terminal's width only on a terminal (and colours not with NO_COLOR
// set), plain text everywhere else, so that a pipe or a log gets the
// same bytes every time.
type display struct {
	w      io.Writer
	colour bool
	// width is the terminal's width; 0 off a terminal (no limit).
	width int
}

func newDisplay(w io.Writer) *display {
	d := &display{w: w}
	if !isTerminal(w) {
		return d
	}
	d.colour = os.Getenv("NO_COLOR") == ""
	if ws, err := unix.IoctlGetWinsize(int(w.(*os.File).Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 0 {
		d.width = int(ws.Col)
	}
	return d
}

// ANSI colours of the health words.
const (
	colourRed    = "\x1b[1;31m"
	colourYellow = "\x1b[33m"
	colourGreen  = "\x1b[32m"
	colourDim    = "\x1b[2m"
	colourReset  = "\x1b[0m"
)

func (d *display) paint(s, colour string) string {
	if !d.colour || colour == "" {
		return s
	}
	return colour + s + colourReset
}

// table prints rows in columns two spaces apart; paint, if set, colours
// a cell (after its width is measured). On a terminal a line longer than
// the terminal is cut at its width.
func (d *display) table(rows [][]string, paint func(row, col int, s string) string) {
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	for ri, r := range rows {
		var plain, out strings.Builder
		for i, c := range r {
			pad := ""
			if i < len(r)-1 {
				pad = strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+2)
			}
			plain.WriteString(c + pad)
			if paint != nil {
				c = paint(ri, i, c)
			}
			out.WriteString(c + pad)
		}
		line := strings.TrimRight(plain.String(), " ")
		if d.width > 0 && utf8.RuneCountInString(line) > d.width {
			// Cut what does not fit (and leave the colours out).
			fmt.Fprintln(d.w, string([]rune(line)[:d.width-1])+"…")
			continue
		}
		fmt.Fprintln(d.w, strings.TrimRight(out.String(), " "))
	}
}

// wrap prints text indented, cut into lines of the terminal's width (one
// line off a terminal).
func (d *display) wrap(indent, text string) {
	if d.width <= len(indent)+20 {
		fmt.Fprintln(d.w, indent+text)
		return
	}
	line := indent
	for _, word := range strings.Fields(text) {
		if utf8.RuneCountInString(line)+1+utf8.RuneCountInString(word) > d.width && strings.TrimSpace(line) != "" {
			fmt.Fprintln(d.w, line)
			line = indent + "  "
		}
		if strings.TrimSpace(line) != "" {
			line += " "
		}
		line += word
	}
	fmt.Fprintln(d.w, line)
}
