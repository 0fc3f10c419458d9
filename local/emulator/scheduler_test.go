package emulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/scheduler/types"

	"github.com/mulletgo/mullet/framework"
	"github.com/mulletgo/mullet/local/emulator"
)

// timerSink records the events the Scheduler stand-in delivers.
type timerSink struct {
	mu     sync.Mutex
	events []events.APIGatewayWebsocketProxyRequest
	fail   int // fail this many invocations first
	got    chan struct{}
}

func (s *timerSink) invoke(_ context.Context, ev *events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail > 0 {
		s.fail--
		return events.APIGatewayProxyResponse{StatusCode: 500}, errors.New("injected failure")
	}
	s.events = append(s.events, *ev)
	s.got <- struct{}{}
	return events.APIGatewayProxyResponse{StatusCode: 200}, nil
}

func startScheduler(t *testing.T, sink *timerSink) (*scheduler.Client, *httptest.Server) {
	t.Helper()
	sched := emulator.NewScheduler(sink.invoke, nil)
	srv := httptest.NewServer(http.StripPrefix("/_scheduler", sched))
	t.Cleanup(func() { sched.Close(); srv.Close() })
	client := scheduler.New(scheduler.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
		BaseEndpoint: aws.String(srv.URL + "/_scheduler"),
	})
	return client, srv
}

// TestSchedulerWithSDK: framework.EventBridgeScheduler, over the unmodified
// aws-sdk-go-v2 scheduler client, schedules a timer on the stand-in, which
// delivers the event at its time, once; scheduling the same name again is
// not an error and delivers nothing more.
func TestSchedulerWithSDK(t *testing.T) {
	sink := &timerSink{got: make(chan struct{}, 4), fail: 1}
	client, _ := startScheduler(t, sink)
	s, err := framework.NewEventBridgeScheduler(client, &framework.EventBridgeSchedulerOptions{
		RoleARN: "arn:aws:iam::000000000000:role/timers", TargetARN: "arn:aws:lambda:us-east-1:000000000000:function:app",
	})
	if err != nil {
		t.Fatal(err)
	}
	ev := events.APIGatewayWebsocketProxyRequest{Body: `{"barrier":"b"}`}
	ev.RequestContext.EventType = framework.TimerEventType
	data, _ := json.Marshal(ev)
	ctx := context.Background()
	at := time.Now().Truncate(time.Second).Add(time.Second)
	if err := s.Schedule(ctx, "t1", at, data); err != nil {
		t.Fatalf("Schedule: %v", err)
	}
	if err := s.Schedule(ctx, "t1", at, data); err != nil {
		t.Fatalf("Schedule of an existing name: %v; want nil (ConflictException counts as scheduled)", err)
	}
	select {
	case <-sink.got:
	case <-time.After(5 * time.Second):
		t.Fatal("the schedule was not delivered (its first invocation failed and must be retried)")
	}
	if time.Now().Before(at) {
		t.Fatalf("delivered before its time %v", at)
	}
	select {
	case <-sink.got:
		t.Fatal("delivered twice")
	case <-time.After(300 * time.Millisecond):
	}
	if got := sink.events[0]; got.Body != ev.Body || got.RequestContext.EventType != framework.TimerEventType {
		t.Fatalf("delivered event %+v", got)
	}
}

func TestSchedulerBadInput(t *testing.T) {
	sink := &timerSink{got: make(chan struct{}, 4)}
	client, srv := startScheduler(t, sink)
	ctx := context.Background()
	valid := func() *scheduler.CreateScheduleInput {
		return &scheduler.CreateScheduleInput{
			Name:               aws.String("x"),
			ScheduleExpression: aws.String("at(2030-01-01T00:00:00)"),
			FlexibleTimeWindow: &types.FlexibleTimeWindow{Mode: types.FlexibleTimeWindowModeOff},
			Target:             &types.Target{Arn: aws.String("arn:f"), RoleArn: aws.String("arn:r"), Input: aws.String("{}")},
		}
	}
	in := valid()
	in.ScheduleExpression = aws.String("rate(5 minutes)")
	var ve *types.ValidationException
	if _, err := client.CreateSchedule(ctx, in); !errors.As(err, &ve) {
		t.Errorf("rate() schedule: %v; want ValidationException", err)
	}
	if _, err := client.CreateSchedule(ctx, valid()); err != nil {
		t.Fatalf("valid schedule: %v", err)
	}
	var ce *types.ConflictException
	if _, err := client.CreateSchedule(ctx, valid()); !errors.As(err, &ce) {
		t.Errorf("duplicate name: %v; want ConflictException", err)
	}
	if _, err := client.DeleteSchedule(ctx, &scheduler.DeleteScheduleInput{Name: aws.String("x")}); err != nil {
		t.Errorf("DeleteSchedule: %v", err)
	}
	var nf *types.ResourceNotFoundException
	if _, err := client.DeleteSchedule(ctx, &scheduler.DeleteScheduleInput{Name: aws.String("x")}); !errors.As(err, &nf) {
		t.Errorf("DeleteSchedule of a deleted schedule: %v; want ResourceNotFoundException", err)
	}
	resp, err := http.Post(srv.URL+"/_scheduler/schedules/y", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("unsigned request: %d; want 403", resp.StatusCode)
	}
}
