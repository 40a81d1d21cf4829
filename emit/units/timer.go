package units

import "github.com/holthome/bakc/escape"

// buildTimer writes the timer that starts a task's service. Persistent=
// runs a start that was missed while the host was off once it is back;
// the randomized delay spreads a fleet's runs so that its NAS is not hit
// by every node at the same second. FixedRandomDelay= (systemd ≥ 247)
// makes that delay a fixed offset per machine and timer: each of a
// node's jobs starts at its own minute of the window, every time, so
// they rarely meet one another or the node's maintenance, and a
// schedule's window can be reasoned about (docs/schedules.md).
func buildTimer(t task) Unit {
	name := ServiceName(t.kind, t.name)
	u := newSection("Unit").
		add("Description", escape.SystemdString("Schedule of "+name+".service"))
	tm := newSection("Timer").
		add("OnCalendar", escape.SystemdString(t.schedule.Calendar)).
		add("Persistent", "true")
	if t.schedule.RandomizedDelay != "" {
		tm.add("RandomizedDelaySec", t.schedule.RandomizedDelay).
			add("FixedRandomDelay", "true")
	}
	in := newSection("Install").add("WantedBy", "timers.target")
	return Unit{Name: name + ".timer", Sections: []Section{u.Section, tm.Section, in.Section}}
}
