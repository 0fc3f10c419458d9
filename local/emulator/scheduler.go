package emulator

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Scheduler stands in for EventBridge Scheduler locally, for the one thing
// mullet uses it for: one-time schedules that invoke the function. It
// serves the CreateSchedule and DeleteSchedule calls of the aws-sdk-go-v2
// scheduler client (POST and DELETE /schedules/{name}, SigV4 header
// required, ConflictException for a name already scheduled in its group),
// accepts only at(yyyy-mm-ddThh:mm:ss) expressions, and when a schedule is
// due it invokes the integration with the schedule's target input, as
// EventBridge Scheduler invokes a Lambda target, then deletes it. A failed
// invocation is retried as the schedule's retry policy allows (at most 3
// times, a second apart). Mount it under a path prefix with
// http.StripPrefix. Create it with NewScheduler; it is safe for concurrent
// use.
type Scheduler struct {
	invoke  InvokeFunc
	log     *slog.Logger
	timeout time.Duration

	mu        sync.Mutex
	schedules map[string]*time.Timer // by group/name
	closed    bool
	wg        sync.WaitGroup
}

// NewScheduler returns a Scheduler that delivers due schedules to invoke,
// each with a ctx bounded by DefaultIntegrationTimeout. logger may be nil.
func NewScheduler(invoke InvokeFunc, logger *slog.Logger) *Scheduler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{invoke: invoke, log: logger, timeout: DefaultIntegrationTimeout, schedules: make(map[string]*time.Timer)}
}

// createScheduleInput is the part of CreateSchedule's request body the
// stand-in reads.
type createScheduleInput struct {
	GroupName          string
	ScheduleExpression string
	FlexibleTimeWindow *struct{ Mode string }
	Target             *struct {
		Arn, RoleArn, Input string
		RetryPolicy         *struct{ MaximumRetryAttempts *int }
	}
}

func (s *Scheduler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.URL.Path, "/schedules/")
	if !ok || name == "" || strings.Contains(name, "/") {
		schedulerError(w, http.StatusNotFound, "ResourceNotFoundException", "the Scheduler stand-in serves /schedules/{name} only")
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		schedulerError(w, http.StatusForbidden, "AccessDeniedException", "Missing Authentication Token: requests must be signed with AWS Signature Version 4")
		return
	}
	switch r.Method {
	case http.MethodPost:
		s.create(w, r, name)
	case http.MethodDelete:
		key := scheduleKey(r.URL.Query().Get("groupName"), name)
		s.mu.Lock()
		t, ok := s.schedules[key]
		delete(s.schedules, key)
		s.mu.Unlock()
		if !ok {
			schedulerError(w, http.StatusNotFound, "ResourceNotFoundException", "Schedule "+name+" does not exist.")
			return
		}
		if t.Stop() {
			s.wg.Done()
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, "{}")
	default:
		schedulerError(w, http.StatusMethodNotAllowed, "ValidationException", "use POST (CreateSchedule) or DELETE (DeleteSchedule)")
	}
}

func (s *Scheduler) create(w http.ResponseWriter, r *http.Request, name string) {
	var in createScheduleInput
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
		schedulerError(w, http.StatusBadRequest, "ValidationException", "request body: "+err.Error())
		return
	}
	expr, ok := strings.CutPrefix(in.ScheduleExpression, "at(")
	expr, ok2 := strings.CutSuffix(expr, ")")
	at, err := time.Parse("2006-01-02T15:04:05", expr)
	if !ok || !ok2 || err != nil {
		schedulerError(w, http.StatusBadRequest, "ValidationException", fmt.Sprintf("ScheduleExpression %q: the stand-in accepts one-time at(yyyy-mm-ddThh:mm:ss) schedules only", in.ScheduleExpression))
		return
	}
	if in.FlexibleTimeWindow == nil || in.Target == nil || in.Target.Arn == "" || in.Target.RoleArn == "" {
		schedulerError(w, http.StatusBadRequest, "ValidationException", "FlexibleTimeWindow, Target.Arn and Target.RoleArn are required")
		return
	}
	retries := 185 // EventBridge Scheduler's default
	if rp := in.Target.RetryPolicy; rp != nil && rp.MaximumRetryAttempts != nil {
		retries = *rp.MaximumRetryAttempts
	}
	retries = min(retries, 3)
	key := scheduleKey(in.GroupName, name)
	input := []byte(in.Target.Input)
	s.mu.Lock()
	if _, dup := s.schedules[key]; dup || s.closed {
		s.mu.Unlock()
		schedulerError(w, http.StatusConflict, "ConflictException", "Schedule "+name+" already exists.")
		return
	}
	s.wg.Add(1)
	s.schedules[key] = time.AfterFunc(time.Until(at), func() {
		defer s.wg.Done()
		s.fire(key, input, retries)
	})
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{
		"ScheduleArn": "arn:aws:scheduler:us-east-1:000000000000:schedule/" + key,
	})
}

// fire delivers a due schedule's input to the integration and deletes the
// schedule (ActionAfterCompletion DELETE).
func (s *Scheduler) fire(key string, input []byte, retries int) {
	defer func() {
		s.mu.Lock()
		delete(s.schedules, key)
		s.mu.Unlock()
	}()
	var ev events.APIGatewayWebsocketProxyRequest
	if err := json.Unmarshal(input, &ev); err != nil {
		s.log.Error("scheduler: a schedule's input is not an event the integration takes", "schedule", key, "error", err)
		return
	}
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
		_, err := s.invoke(ctx, &ev)
		cancel()
		if err == nil {
			return
		}
		if attempt >= retries || s.isClosed() {
			s.log.Error("scheduler: the invocation failed; no retries left", "schedule", key, "error", err)
			return
		}
		s.log.Warn("scheduler: the invocation failed; retrying", "schedule", key, "error", err)
		time.Sleep(time.Second)
	}
}

func (s *Scheduler) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close cancels the schedules not yet due, waits for those running, and
// refuses new ones.
func (s *Scheduler) Close() error {
	s.mu.Lock()
	s.closed = true
	for key, t := range s.schedules {
		if t.Stop() {
			s.wg.Done()
			delete(s.schedules, key)
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

func scheduleKey(group, name string) string {
	if group == "" {
		group = "default"
	}
	return group + "/" + name
}

func schedulerError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"Message": msg})
}
