package daemon

// group runs actors, each an execute function with its interrupt, until
// the first execute returns; then every interrupt is called with that
// error and every execute is waited for. It is oklog/run's Group (as in
// Prometheus' main.go) in a few lines, kept here rather than taken as a
// dependency: the daemon needs nothing more.
type group struct {
	actors []actor
}

// actor is one member of a group.
type actor struct {
	execute   func() error
	interrupt func(error)
}

// add adds an actor. interrupt must make execute return.
func (g *group) add(execute func() error, interrupt func(error)) {
	g.actors = append(g.actors, actor{execute, interrupt})
}

// run runs every actor and returns the first one's error once all have
// returned. Without actors it returns nil at once.
func (g *group) run() error {
	if len(g.actors) == 0 {
		return nil
	}
	errs := make(chan error, len(g.actors))
	for _, a := range g.actors {
		go func() { errs <- a.execute() }()
	}
	err := <-errs
	for _, a := range g.actors {
		a.interrupt(err)
	}
	for range len(g.actors) - 1 {
		<-errs
	}
	return err
}
