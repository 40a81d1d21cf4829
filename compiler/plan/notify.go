package plan

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/holthome/bakc/compiler/calendar"
)

// MaxNotifyTimeout bounds Notify.Timeout: a run waits for its
// notifications, and a notification never holds up a backup for long.
const MaxNotifyTimeout = 5 * time.Minute

// CheckNotifyTimeout reports a notification timeout that is not a time
// span from one second to MaxNotifyTimeout.
func CheckNotifyTimeout(s string) error {
	d, err := calendar.ParseTimespan(s)
	if err != nil {
		return fmt.Errorf("%q is not a systemd time span: %w", s, err)
	}
	if d < time.Second || d > MaxNotifyTimeout {
		return fmt.Errorf("%q is not from 1s to 5min", s)
	}
	return nil
}

// CheckNotifyURL reports why s cannot be a notification URL of a job
// (Notify.PingURL, Notify.FailureURL), or nil: an absolute http or https
// URL with a host, without credentials (they would be copied into the
// plan and the Nix store), a fragment, or characters a URL does not
// carry as they are (spaces, controls).
func CheckNotifyURL(s string) error {
	if err := checkLine(s); err != nil {
		return err
	}
	if strings.ContainsAny(s, " \t\"<>\\^`{|}") {
		return fmt.Errorf("%q has a character a URL cannot hold as it is (a space, a quote, a brace): percent-encode it", s)
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", s, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q is not an http or https URL", s)
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("%q has no host", s)
	case u.User != nil:
		return errors.New("the URL holds a user name or password, which would be copied into the plan and the Nix store; use a URL that is its own secret (a healthchecks.io check's UUID, an unguessable ntfy topic)")
	case u.Fragment != "" || strings.Contains(s, "#"):
		return fmt.Errorf("%q has a fragment (#…), which is never sent", s)
	}
	return nil
}
