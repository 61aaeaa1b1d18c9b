package kube

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func node(name string, ready bool) *corev1.Node {
	status, reason := corev1.ConditionFalse, "KubeletNotReady"
	if ready {
		status, reason = corev1.ConditionTrue, "KubeletReady"
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Status:     corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status, Reason: reason}}},
	}
}

func TestWaitNodesBecomesReady(t *testing.T) {
	client := fake.NewClientset(node("n1", false))
	listed := make(chan struct{}, 1)
	client.PrependReactor("list", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		select {
		case listed <- struct{}{}:
		default:
		}
		return false, nil, nil
	})
	done := make(chan error, 1)
	go func() { done <- WaitNodes(t.Context(), client, 1, Wait{Timeout: time.Minute, Poll: time.Millisecond}) }()
	<-listed
	if _, err := client.CoreV1().Nodes().UpdateStatus(t.Context(), node("n1", true), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestWaitNodesTimesOut(t *testing.T) {
	err := WaitNodes(t.Context(), fake.NewClientset(node("n1", false)), 1, Wait{Timeout: 50 * time.Millisecond, Poll: time.Millisecond})
	if !IsNotReady(err) || !strings.Contains(err.Error(), "n1: Ready=False (KubeletNotReady)") {
		t.Errorf("WaitNodes with a NotReady node = %v", err)
	}
	err = WaitNodes(t.Context(), fake.NewClientset(), 1, Wait{Timeout: 50 * time.Millisecond, Poll: time.Millisecond})
	if !IsNotReady(err) || !strings.Contains(err.Error(), "0 of 1 nodes registered") {
		t.Errorf("WaitNodes with no node = %v", err)
	}
}

func TestWaitDeploymentsNoneIsReady(t *testing.T) {
	if err := WaitDeployments(t.Context(), fake.NewClientset(), nil, Wait{}); err != nil {
		t.Errorf("WaitDeployments of nothing = %v", err)
	}
}
