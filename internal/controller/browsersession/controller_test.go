package browsersession

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/emulator"
	"github.com/browserbase/session-operator/internal/operator"
)

var _ = Describe("BrowserSession", func() {
	var ns string

	BeforeEach(func(ctx SpecContext) { ns = testNamespace(ctx, "bbs-test-") })

	newSession := func(ctx SpecContext, name string, mutate func(*v1alpha1.BrowserSession)) *v1alpha1.BrowserSession {
		bs := &v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		if mutate != nil {
			mutate(bs)
		}
		Expect(k8sClient.Create(ctx, bs)).To(Succeed())
		return bs
	}
	fetch := func(ctx SpecContext, bs *v1alpha1.BrowserSession) func(Gomega) *v1alpha1.BrowserSession {
		return func(g Gomega) *v1alpha1.BrowserSession {
			got := &v1alpha1.BrowserSession{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(bs), got)).To(Succeed())
			return got
		}
	}
	// getReturnsConnect makes the emulator's get return the connect details (or not, the suite's
	// default, as the real API allows) for the rest of the spec.
	getReturnsConnect := func(v bool) {
		emu.SetGetReturnsConnect(v)
		DeferCleanup(func() { emu.SetGetReturnsConnect(false) })
	}
	condition := func(bs *v1alpha1.BrowserSession, typ string) *metav1.Condition {
		return meta.FindStatusCondition(bs.Status.Conditions, typ)
	}
	// waitForCondition waits until the condition has the status and reason, and returns the object.
	waitForCondition := func(ctx SpecContext, bs *v1alpha1.BrowserSession, typ string, status metav1.ConditionStatus, reason string) *v1alpha1.BrowserSession {
		var got *v1alpha1.BrowserSession
		Eventually(func(g Gomega) {
			got = fetch(ctx, bs)(g)
			c := condition(got, typ)
			g.Expect(c).NotTo(BeNil(), "condition %s", typ)
			g.Expect(c.Status).To(Equal(status), "condition %s: %s", typ, c.Message)
			g.Expect(c.Reason).To(Equal(reason), "condition %s: %s", typ, c.Message)
			g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
		}).Should(Succeed())
		return got
	}
	// sessionsOf lists the emulator's sessions tagged with the resource's UID.
	sessionsOf := func(ctx SpecContext, bs *v1alpha1.BrowserSession) []emulator.Session {
		current := &v1alpha1.BrowserSession{}
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(bs), current); err == nil {
			bs = current
		}
		var out []emulator.Session
		for _, s := range emu.Sessions() {
			if tag, ok := s.UserMetadata["k8s"].(map[string]any); ok && tag["uid"] == string(bs.UID) {
				out = append(out, s)
			}
		}
		return out
	}
	countRequests := func(method, path string, status int) int {
		n := 0
		for _, r := range emu.Requests() {
			if r.Method == method && r.Path == path && r.Status == status {
				n++
			}
		}
		return n
	}
	waitGone := func(ctx SpecContext, bs *v1alpha1.BrowserSession) {
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(bs), &v1alpha1.BrowserSession{}))
		}).Should(BeTrue())
	}
	// expectLeftRunning waits for bs to be gone and checks that its session id still runs, then
	// ends it so that it holds no slot of the emulator's.
	expectLeftRunning := func(ctx SpecContext, bs *v1alpha1.BrowserSession, id, why string) {
		GinkgoHelper()
		waitGone(ctx, bs)
		sess, _ := emu.Session(id)
		Expect(sess.Status).To(Equal("RUNNING"), why)
		emu.SetSessionStatus(id, "COMPLETED")
	}

	It("creates a session, reports it in status and writes its credentials to a Secret", func(ctx SpecContext) {
		bs := newSession(ctx, "scraper", func(bs *v1alpha1.BrowserSession) {
			bs.Labels = map[string]string{"app.kubernetes.io/instance": "my-argo-app", "team": "data"}
			bs.Spec.Region = "us-east-1"
			bs.Spec.Timeout = ptr.To[int32](600)
			bs.Spec.Metadata = map[string]string{"team": "scraping"}
			bs.Spec.BrowserSettings = &v1alpha1.BrowserSettings{
				BlockAds: ptr.To(true),
				Viewport: &v1alpha1.Viewport{Width: ptr.To[int32](1280), Height: ptr.To[int32](800)},
				OS:       "linux",
			}
			bs.Spec.Proxies = []v1alpha1.Proxy{{Type: "browserbase", Geolocation: &v1alpha1.ProxyGeolocation{Country: "US", State: "NY"}}}
		})
		got := waitForCondition(ctx, bs, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonSessionRunning)

		By("creating exactly one session, with the spec and the operator's tag")
		sessions := sessionsOf(ctx, bs)
		Expect(sessions).To(HaveLen(1))
		sess := sessions[0]
		Expect(sess.ProjectID).To(Equal("proj-default"))
		Expect(sess.CreateBody).To(HaveKeyWithValue("region", "us-east-1"))
		Expect(sess.CreateBody).To(HaveKeyWithValue("timeout", BeNumerically("==", 600)))
		Expect(sess.CreateBody).To(HaveKeyWithValue("browserSettings", And(
			HaveKeyWithValue("blockAds", true),
			HaveKeyWithValue("os", "linux"),
			HaveKeyWithValue("viewport", map[string]any{"width": float64(1280), "height": float64(800)}),
		)))
		Expect(sess.CreateBody).To(HaveKeyWithValue("proxies", ConsistOf(map[string]any{
			"type": "browserbase", "geolocation": map[string]any{"country": "US", "state": "NY"},
		})))
		Expect(sess.CreateBody).NotTo(HaveKey("keepAlive"), "unset fields must not be sent")
		attempt := got.Annotations[v1alpha1.AnnotationCreateAttempt]
		Expect(attempt).To(MatchRegexp("^[0-9a-f]{16}$"))
		Expect(sess.UserMetadata).To(Equal(map[string]any{
			"team": "scraping",
			"k8s":  map[string]any{"uid": string(got.UID), "namespace": ns, "name": "scraper", "attempt": attempt},
		}))

		By("recording the session in status, without credentials")
		Expect(got.Status.ID).To(Equal(sess.ID))
		Expect(got.Annotations).To(HaveKey(v1alpha1.AnnotationCreateAttemptedAt))
		Expect(got.Finalizers).To(ContainElement(v1alpha1.Finalizer))
		Expect(got.Status.SessionStatus).To(Equal("RUNNING"))
		Expect(got.Status.ConnectURL).To(Equal("wss://connect.use1.browserbase.com/"))
		Expect(got.Status.ExpiresAt.Time).To(BeTemporally("~", sess.ExpiresAt, time.Second))
		Expect(got.Status.StartedAt).NotTo(BeNil())
		Expect(got.Status.EndedAt).To(BeNil())
		Expect(got.Status.Region).To(Equal("us-east-1"))
		Expect(got.Status.ProjectID).To(Equal("proj-default"))
		Expect(got.Status.SecretName).To(Equal("scraper-browserbase"))
		Expect(condition(got, v1alpha1.ConditionReconciling)).To(BeNil())
		Expect(condition(got, v1alpha1.ConditionStalled)).To(BeNil())
		raw, err := json.Marshal(got)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(raw)).NotTo(ContainSubstring(sess.SigningKey))

		By("writing the Secret the workload reads")
		secret := &corev1.Secret{}
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: "scraper-browserbase"}, secret)).To(Succeed())
		Expect(secret.Type).To(Equal(corev1.SecretTypeOpaque))
		Expect(secret.Data).To(Equal(map[string][]byte{
			"sessionId":         []byte(sess.ID),
			"connectUrl":        []byte(sess.ConnectURL),
			"seleniumRemoteUrl": []byte(sess.SeleniumRemoteURL),
			"signingKey":        []byte(sess.SigningKey),
			"expiresAt":         []byte(got.Status.ExpiresAt.UTC().Format(time.RFC3339)),
		}))
		Expect(sess.ConnectURL).To(ContainSubstring("signingKey=" + sess.SigningKey))
		Expect(metav1.IsControlledBy(secret, got)).To(BeTrue())
		Expect(secret.Labels).NotTo(HaveKey("app.kubernetes.io/instance"), "the resource's labels must not be copied")
		Expect(secret.Labels).NotTo(HaveKey("team"))
		Expect(secret.Labels).To(HaveKeyWithValue(operator.ManagedByLabel, operator.ManagedByValue))

		By("polling without rewriting the unchanged Secret")
		version := secret.ResourceVersion
		Eventually(func() int { return countRequests(http.MethodGet, "/v1/sessions/"+sess.ID, http.StatusOK) }).Should(BeNumerically(">=", 3))
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(secret), secret)).To(Succeed())
		Expect(secret.ResourceVersion).To(Equal(version))

		By("keeping credentials out of events")
		events := &eventsv1.EventList{}
		Expect(k8sClient.List(ctx, events, client.InNamespace(ns))).To(Succeed())
		Expect(events.Items).NotTo(BeEmpty())
		for _, e := range events.Items {
			Expect(e.Note).NotTo(ContainSubstring(sess.SigningKey))
			Expect(e.Note).NotTo(ContainSubstring(defaultKey))
		}
	})

	It("releases the session when the resource is deleted", func(ctx SpecContext) {
		bs := newSession(ctx, "release-me", nil)
		got := waitForCondition(ctx, bs, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonSessionRunning)

		Expect(k8sClient.Delete(ctx, bs)).To(Succeed())
		waitGone(ctx, bs)
		Expect(countRequests(http.MethodPost, "/v1/sessions/"+got.Status.ID, http.StatusOK)).To(Equal(1))
		sess, ok := emu.Session(got.Status.ID)
		Expect(ok).To(BeTrue())
		Expect(sess.Status).To(Equal("COMPLETED"))
	})

	It("leaves the session running when deletionPolicy is Orphan", func(ctx SpecContext) {
		bs := newSession(ctx, "orphan", func(bs *v1alpha1.BrowserSession) { bs.Spec.DeletionPolicy = v1alpha1.DeletionPolicyOrphan })
		got := waitForCondition(ctx, bs, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonSessionRunning)

		Expect(k8sClient.Delete(ctx, bs)).To(Succeed())
		waitGone(ctx, bs)
		Expect(emu.CountRequests(http.MethodPost, "/v1/sessions/"+got.Status.ID)).To(BeZero())
		sess, _ := emu.Session(got.Status.ID)
		Expect(sess.Status).To(Equal("RUNNING"))
		emu.SetSessionStatus(got.Status.ID, "COMPLETED") // do not hold the emulator's slot
	})

	It("waits without calling Browserbase while the API key Secret is missing, and recovers when it appears", func(ctx SpecContext) {
		bs := newSession(ctx, "needs-key", func(bs *v1alpha1.BrowserSession) {
			bs.Spec.APIKeySecretRef = &v1alpha1.APIKeySecretReference{Name: "team-key"}
		})
		// Reconciling, not Stalled: the Secret may be on its way (External Secrets, SOPS).
		got := waitForCondition(ctx, bs, v1alpha1.ConditionReconciling, metav1.ConditionTrue, v1alpha1.ReasonCredentialsMissing)
		msg := condition(got, v1alpha1.ConditionReconciling).Message
		Expect(msg).To(ContainSubstring(`Secret "team-key" not found in namespace "` + ns + `"`))
		Expect(msg).To(ContainSubstring(`under key "apiKey"`))
		Expect(msg).To(ContainSubstring("kubectl create secret generic team-key"))
		Expect(condition(got, v1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionFalse))
		Expect(condition(got, v1alpha1.ConditionStalled)).To(BeNil())
		Consistently(func() []emulator.Session { return sessionsOf(ctx, bs) }).Should(BeEmpty())

		Expect(k8sClient.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "team-key"},
			StringData: map[string]string{"apiKey": teamKey + "\n"},
		})).To(Succeed())
		waitForCondition(ctx, bs, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonSessionRunning)
		sessions := sessionsOf(ctx, bs)
		Expect(sessions).To(HaveLen(1))
		Expect(sessions[0].ProjectID).To(Equal("proj-team"), "the key from the Secret, not the default, is used")
	})

	It("stalls once on a rejected API key, without retrying against Browserbase", func(ctx SpecContext) {
		wrongKey := "bb_wrong_key_" + ns
		Expect(k8sClient.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bad-key"},
			StringData: map[string]string{"token": wrongKey},
		})).To(Succeed())
		rejectedBefore := countRequests(http.MethodPost, "/v1/sessions", http.StatusUnauthorized)
		bs := newSession(ctx, "bad-key", func(bs *v1alpha1.BrowserSession) {
			bs.Spec.APIKeySecretRef = &v1alpha1.APIKeySecretReference{Name: "bad-key", Key: "token"}
		})
		got := waitForCondition(ctx, bs, v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonCredentialsRejected)
		msg := condition(got, v1alpha1.ConditionStalled).Message
		Expect(msg).To(ContainSubstring(`Secret "bad-key" key "token"`))
		Expect(msg).To(ContainSubstring("401"))
		Expect(msg).NotTo(ContainSubstring(wrongKey))
		Consistently(func() int {
			return countRequests(http.MethodPost, "/v1/sessions", http.StatusUnauthorized) - rejectedBefore
		}).Should(Equal(1))

		By("emitting one Warning event for it")
		Eventually(func(g Gomega) {
			events := &eventsv1.EventList{}
			g.Expect(k8sClient.List(ctx, events, client.InNamespace(ns))).To(Succeed())
			var warnings []string
			for _, e := range events.Items {
				g.Expect(e.Note).NotTo(ContainSubstring(wrongKey))
				if e.Reason == v1alpha1.ReasonCredentialsRejected {
					warnings = append(warnings, e.Note)
				}
			}
			g.Expect(warnings).To(HaveLen(1))
		}).Should(Succeed())

		By("trying again when the key is fixed and the resource touched, as the message says")
		Expect(k8sClient.Update(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bad-key"},
			StringData: map[string]string{"token": teamKey},
		})).To(Succeed())
		Eventually(func(g Gomega) {
			current := fetch(ctx, bs)(g)
			current.Annotations = map[string]string{"browserbase.io/retry": "1"}
			g.Expect(k8sClient.Update(ctx, current)).To(Succeed())
		}).Should(Succeed())
		waitForCondition(ctx, bs, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonSessionRunning)
		Expect(sessionsOf(ctx, bs)).To(HaveLen(1))
	})

	It("stalls when Browserbase refuses the request, with its message", func(ctx SpecContext) {
		bs := newSession(ctx, "wrong-project", func(bs *v1alpha1.BrowserSession) { bs.Spec.ProjectID = "someone-elses-project" })
		got := waitForCondition(ctx, bs, v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonRequestRejected)
		Expect(condition(got, v1alpha1.ConditionStalled).Message).To(ContainSubstring("Project not found"))
		Consistently(func() int { return countRequests(http.MethodPost, "/v1/sessions", http.StatusNotFound) }).Should(Equal(1))
	})

	It("stalls, once, on a region the project cannot use", func(ctx SpecContext) {
		Expect(k8sClient.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "west"},
			StringData: map[string]string{"apiKey": westKey},
		})).To(Succeed())
		refusedBefore := countRequests(http.MethodPost, "/v1/sessions", http.StatusBadRequest)
		bs := newSession(ctx, "europe", func(bs *v1alpha1.BrowserSession) {
			bs.Spec.Region = "eu-central-1"
			bs.Spec.APIKeySecretRef = &v1alpha1.APIKeySecretReference{Name: "west"}
		})
		got := waitForCondition(ctx, bs, v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonRequestRejected)
		Expect(condition(got, v1alpha1.ConditionStalled).Message).To(ContainSubstring("Region eu-central-1 is not available for this project"))
		Expect(got.Annotations).NotTo(HaveKey(v1alpha1.AnnotationCreateAttempt), "a refused create made nothing to look for")
		Consistently(func() int {
			return countRequests(http.MethodPost, "/v1/sessions", http.StatusBadRequest) - refusedBefore
		}).Should(Equal(1))
	})

	It("waits out a rate limit as Reconciling, not Stalled, and does not hammer the API", func(ctx SpecContext) {
		Expect(k8sClient.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "limited"},
			StringData: map[string]string{"apiKey": limitedKey},
		})).To(Succeed())
		withLimitedKey := func(bs *v1alpha1.BrowserSession) {
			bs.Spec.APIKeySecretRef = &v1alpha1.APIKeySecretReference{Name: "limited"}
		}
		first := newSession(ctx, "first", withLimitedKey)
		waitForCondition(ctx, first, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonSessionRunning)
		limitedBefore := countRequests(http.MethodPost, "/v1/sessions", http.StatusTooManyRequests)

		second := newSession(ctx, "second", withLimitedKey)
		got := waitForCondition(ctx, second, v1alpha1.ConditionReconciling, metav1.ConditionTrue, v1alpha1.ReasonConcurrencyLimitReached)
		Expect(condition(got, v1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionFalse))
		Expect(condition(got, v1alpha1.ConditionReady).Message).To(ContainSubstring("concurrent-session limit"))
		Expect(condition(got, v1alpha1.ConditionReady).Message).To(ContainSubstring("max concurrent sessions limit"))
		Expect(condition(got, v1alpha1.ConditionStalled)).To(BeNil())
		Consistently(func() int {
			return countRequests(http.MethodPost, "/v1/sessions", http.StatusTooManyRequests) - limitedBefore
		}).Should(Equal(1), "Retry-After: 60 must be honoured")
	})

	It("never overwrites a Secret it does not own, and creates no session meanwhile", func(ctx SpecContext) {
		foreign := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web-browserbase"},
			StringData: map[string]string{"connectUrl": "someone else's"},
		}
		Expect(k8sClient.Create(ctx, foreign)).To(Succeed())
		bs := newSession(ctx, "web", nil)
		got := waitForCondition(ctx, bs, v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonSecretConflict)
		Expect(condition(got, v1alpha1.ConditionStalled).Message).To(ContainSubstring(`Secret "web-browserbase" already exists`))
		Consistently(func() []emulator.Session { return sessionsOf(ctx, bs) }).Should(BeEmpty())

		after := &corev1.Secret{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(foreign), after)).To(Succeed())
		Expect(after.Data).To(Equal(map[string][]byte{"connectUrl": []byte("someone else's")}))
		Expect(after.OwnerReferences).To(BeEmpty())
		Expect(after.ResourceVersion).To(Equal(foreign.ResourceVersion))
	})

	It("writes the Secret under spec.secretName and restores it when it is deleted", func(ctx SpecContext) {
		getReturnsConnect(true) // the connect details can be read again, so the session stays
		bs := newSession(ctx, "custom", func(bs *v1alpha1.BrowserSession) { bs.Spec.SecretName = "custom-creds" })
		got := waitForCondition(ctx, bs, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonSessionRunning)
		Expect(got.Status.SecretName).To(Equal("custom-creds"))
		secret := &corev1.Secret{}
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: "custom-creds"}, secret)).To(Succeed())
		Expect(k8sClient.Delete(ctx, secret)).To(Succeed())
		Eventually(func(g Gomega) {
			restored := &corev1.Secret{}
			g.Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: "custom-creds"}, restored)).To(Succeed())
			g.Expect(restored.UID).NotTo(Equal(secret.UID))
			g.Expect(restored.Data).To(Equal(secret.Data))
		}).Should(Succeed())
		Expect(sessionsOf(ctx, bs)).To(HaveLen(1), "restoring the Secret must not create a session")
	})

	It("replaces a session whose connect details are lost with its Secret, rather than leave it billing unusable", func(ctx SpecContext) {
		bs := newSession(ctx, "lost-creds", nil)
		got := waitForCondition(ctx, bs, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonSessionRunning)
		first := got.Status.ID
		key := types.NamespacedName{Namespace: ns, Name: "lost-creds-browserbase"}
		Expect(k8sClient.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: key.Name}})).To(Succeed())
		// The manager still remembers nothing of them: it forgot them once the Secret held them, and
		// Browserbase's get (as here) need not return them.
		Eventually(func(g Gomega) {
			current := fetch(ctx, bs)(g)
			g.Expect(current.Status.ID).NotTo(BeEmpty())
			g.Expect(current.Status.ID).NotTo(Equal(first))
			g.Expect(meta.IsStatusConditionTrue(current.Status.Conditions, v1alpha1.ConditionReady)).To(BeTrue())
			secret := &corev1.Secret{}
			g.Expect(k8sClient.Get(ctx, key, secret)).To(Succeed())
			g.Expect(string(secret.Data["sessionId"])).To(Equal(current.Status.ID))
			g.Expect(secret.Data["connectUrl"]).NotTo(BeEmpty())
		}).Should(Succeed())
		old, _ := emu.Session(first)
		Expect(old.Status).To(Equal("COMPLETED"), "the unusable session was released")
		live := 0
		for _, sess := range sessionsOf(ctx, bs) {
			if sess.Status == "RUNNING" {
				live++
			}
		}
		Expect(live).To(Equal(1))
		Eventually(func(g Gomega) {
			events := &eventsv1.EventList{}
			g.Expect(k8sClient.List(ctx, events, client.InNamespace(ns))).To(Succeed())
			g.Expect(events.Items).To(ContainElement(HaveField("Reason", "SessionReplaced")))
		}).Should(Succeed())
	})

	It("reports a timed-out session as not Ready and Stalled, and creates no replacement", func(ctx SpecContext) {
		bs := newSession(ctx, "short", func(bs *v1alpha1.BrowserSession) { bs.Spec.Timeout = ptr.To[int32](60) })
		got := waitForCondition(ctx, bs, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonSessionRunning)
		Expect(emu.ExpireSession(got.Status.ID)).To(BeTrue())

		got = waitForCondition(ctx, bs, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonSessionTimedOut)
		Expect(got.Status.SessionStatus).To(Equal("TIMED_OUT"))
		Expect(got.Status.EndedAt).NotTo(BeNil())
		stalled := condition(got, v1alpha1.ConditionStalled)
		Expect(stalled).NotTo(BeNil())
		Expect(stalled.Status).To(Equal(metav1.ConditionTrue))
		Expect(stalled.Message).To(ContainSubstring("delete and re-create"))
		Expect(condition(got, v1alpha1.ConditionReconciling)).To(BeNil())
		gets := emu.CountRequests(http.MethodGet, "/v1/sessions/"+got.Status.ID)
		Consistently(func() int { return len(sessionsOf(ctx, bs)) }).Should(Equal(1))
		Expect(emu.CountRequests(http.MethodGet, "/v1/sessions/"+got.Status.ID)).To(Equal(gets), "an ended session is not polled")

		By("deleting it without a release call")
		Expect(k8sClient.Delete(ctx, bs)).To(Succeed())
		waitGone(ctx, bs)
		Expect(emu.CountRequests(http.MethodPost, "/v1/sessions/"+got.Status.ID)).To(BeZero())
	})

	It("brings a session up with three writes and an event, then writes nothing while nothing changes", func(ctx SpecContext) {
		bs := newSession(ctx, "frugal", nil)
		got := waitForCondition(ctx, bs, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonSessionRunning)
		// The finalizer and the create attempt in one write, the Secret, the status: and the
		// SessionCreated event, which the recorder sends on its own. One read: is the Secret
		// name free?
		bringUp := []string{"PATCH browsersessions", "GET secrets", "POST secrets", "PATCH browsersessions/status", "POST events"}
		Eventually(func() []string { return apiWrites.of(ns) }).Should(ConsistOf(bringUp))

		By("polling Browserbase, about once a second in this suite, without writing or reading the Secret")
		gets := func() int { return emu.CountRequests(http.MethodGet, "/v1/sessions/"+got.Status.ID) }
		before := gets()
		Consistently(func() []string { return apiWrites.of(ns) }).Should(ConsistOf(bringUp))
		Expect(gets()-before).To(BeNumerically(">=", 2), "the session was polled meanwhile")
	})

	DescribeTable("leaves exactly one live session when a create's answer is lost",
		func(ctx SpecContext, faults emulator.Faults, withConnect bool) {
			getReturnsConnect(withConnect)
			emu.SetFaults(faults)
			DeferCleanup(func() { emu.SetFaults(emulator.Faults{}) })
			bs := newSession(ctx, "lost-answer", nil)
			got := waitForCondition(ctx, bs, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonSessionRunning)

			sessions := sessionsOf(ctx, bs)
			var live []emulator.Session
			for _, sess := range sessions {
				if sess.Status == "RUNNING" {
					live = append(live, sess)
				}
			}
			Expect(live).To(HaveLen(1))
			Expect(got.Status.ID).To(Equal(live[0].ID))
			secret := &corev1.Secret{}
			Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: "lost-answer-browserbase"}, secret)).To(Succeed())
			Expect(string(secret.Data["connectUrl"])).To(Equal(live[0].ConnectURL))
			want := "SessionAdopted"
			if withConnect {
				Expect(sessions).To(HaveLen(1), "the committed session is adopted, not duplicated")
			} else {
				// Its connect URL and signing key came only with the lost answer: no workload could
				// use it, so it is released and one new session made.
				Expect(sessions).To(HaveLen(2))
				want = "SessionReleased"
			}
			Eventually(func(g Gomega) {
				events := &eventsv1.EventList{}
				g.Expect(k8sClient.List(ctx, events, client.InNamespace(ns))).To(Succeed())
				g.Expect(events.Items).To(ContainElement(HaveField("Reason", want)))
			}).Should(Succeed())
		},
		Entry("500 after the session was committed, get returns the connect details", emulator.Faults{CreateCommitThenFail: 1}, true),
		Entry("connection dropped after the session was committed, get returns the connect details", emulator.Faults{CreateCommitThenDrop: 1}, true),
		Entry("500 after the session was committed, get without connect details", emulator.Faults{CreateCommitThenFail: 1}, false),
		Entry("connection dropped after the session was committed, get without connect details", emulator.Faults{CreateCommitThenDrop: 1}, false),
	)

	It("puts the credentials back when someone else changes the Secret", func(ctx SpecContext) {
		getReturnsConnect(true) // only then can they be read again
		bs := newSession(ctx, "tampered", nil)
		got := waitForCondition(ctx, bs, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonSessionRunning)
		key := types.NamespacedName{Namespace: ns, Name: "tampered-browserbase"}
		secret := &corev1.Secret{}
		Expect(k8sClient.Get(ctx, key, secret)).To(Succeed())
		want := string(secret.Data["connectUrl"])
		secret.Data["connectUrl"] = []byte("wss://somewhere.else/")
		Expect(k8sClient.Update(ctx, secret)).To(Succeed())

		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, key, secret)).To(Succeed())
			g.Expect(string(secret.Data["connectUrl"])).To(Equal(want))
		}).Should(Succeed())
		Expect(sessionsOf(ctx, bs)).To(HaveLen(1), "the same session, %s", got.Status.ID)
	})

	It("finds its session again from the create-attempt annotation after a restore without status", func(ctx SpecContext) {
		getReturnsConnect(true) // the restored resource has no Secret of its own to read them from
		original := newSession(ctx, "backed-up", nil)
		got := waitForCondition(ctx, original, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonSessionRunning)
		id := got.Status.ID

		By("restoring it elsewhere as a backup tool would: metadata and spec, no status, a new UID")
		restored := newSession(ctx, "restored", func(bs *v1alpha1.BrowserSession) {
			bs.Annotations = map[string]string{
				v1alpha1.AnnotationCreateAttempt:     got.Annotations[v1alpha1.AnnotationCreateAttempt],
				v1alpha1.AnnotationCreateAttemptedAt: got.Annotations[v1alpha1.AnnotationCreateAttemptedAt],
			}
			bs.Spec = got.Spec
		})
		creates := emu.CountRequests(http.MethodPost, "/v1/sessions")
		restoredGot := waitForCondition(ctx, restored, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonSessionRunning)
		Expect(restoredGot.Status.ID).To(Equal(id))
		Expect(emu.CountRequests(http.MethodPost, "/v1/sessions")).To(Equal(creates), "no new session")
		secret := &corev1.Secret{}
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: "restored-browserbase"}, secret)).To(Succeed())
		Expect(string(secret.Data["sessionId"])).To(Equal(id))
		Expect(k8sClient.Delete(ctx, original)).To(Succeed())
	})

	It("creates again, once, when a failed create made nothing", func(ctx SpecContext) {
		emu.SetFaults(emulator.Faults{ErrorRate: 1})
		DeferCleanup(func() { emu.SetFaults(emulator.Faults{}) })
		failedBefore := countRequests(http.MethodPost, "/v1/sessions", http.StatusInternalServerError)
		bs := newSession(ctx, "flaky", nil)
		got := waitForCondition(ctx, bs, v1alpha1.ConditionReconciling, metav1.ConditionTrue, v1alpha1.ReasonBrowserbaseUnavailable)
		Expect(got.Annotations).To(HaveKey(v1alpha1.AnnotationCreateAttempt), "a 5xx leaves the outcome unknown")
		Eventually(func() int {
			return countRequests(http.MethodPost, "/v1/sessions", http.StatusInternalServerError) - failedBefore
		}).Should(BeNumerically(">=", 1))
		emu.SetFaults(emulator.Faults{})

		waitForCondition(ctx, bs, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonSessionRunning)
		Expect(sessionsOf(ctx, bs)).To(HaveLen(1))
	})

	It("lets a resource whose session cannot be released go when asked to, and only then", func(ctx SpecContext) {
		Expect(k8sClient.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "short-lived-key"},
			StringData: map[string]string{"apiKey": teamKey},
		})).To(Succeed())
		bs := newSession(ctx, "stuck", func(bs *v1alpha1.BrowserSession) {
			bs.Spec.APIKeySecretRef = &v1alpha1.APIKeySecretReference{Name: "short-lived-key"}
		})
		waitForCondition(ctx, bs, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonSessionRunning)
		Expect(k8sClient.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "short-lived-key"}})).To(Succeed())
		Expect(k8sClient.Delete(ctx, bs)).To(Succeed())

		got := waitForCondition(ctx, bs, v1alpha1.ConditionReconciling, metav1.ConditionTrue, v1alpha1.ReasonCredentialsMissing)
		msg := condition(got, v1alpha1.ConditionReconciling).Message
		Expect(msg).To(ContainSubstring("deletion waits until the session expires"))
		Expect(msg).To(ContainSubstring("kubectl annotate browsersession stuck " + v1alpha1.AnnotationSkipRelease + "=true"))
		Consistently(func() error {
			return k8sClient.Get(ctx, client.ObjectKeyFromObject(bs), &v1alpha1.BrowserSession{})
		}).Should(Succeed(), "the finalizer holds while the session may still run")

		Eventually(func(g Gomega) {
			current := fetch(ctx, bs)(g)
			current.Annotations[v1alpha1.AnnotationSkipRelease] = "true"
			g.Expect(k8sClient.Update(ctx, current)).To(Succeed())
		}).Should(Succeed())
		expectLeftRunning(ctx, bs, got.Status.ID, "skipped, not released")
	})

	It("stalls without calling Browserbase when userMetadata with the operator's tag is too long", func(ctx SpecContext) {
		// Admission cannot see the namespace, so it lets this through: 394 characters of key, value
		// and name fit with a one-character namespace, not with this test's 14-character one.
		longName := strings.Repeat("n", 200)
		bs := newSession(ctx, longName, func(bs *v1alpha1.BrowserSession) {
			bs.Spec.Metadata = map[string]string{"note": strings.Repeat("x", 190)}
		})
		got := waitForCondition(ctx, bs, v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonInvalidSpec)
		Expect(condition(got, v1alpha1.ConditionStalled).Message).To(MatchRegexp(`userMetadata would be \d+ characters`))
		Consistently(func() []emulator.Session { return sessionsOf(ctx, bs) }).Should(BeEmpty())
	})

	DescribeTable("the API server refuses invalid manifests with a clear message",
		func(ctx SpecContext, mutate func(*v1alpha1.BrowserSessionSpec), want string) {
			bs := &v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: "invalid-"}}
			mutate(&bs.Spec)
			err := k8sClient.Create(ctx, bs)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
			Expect(err.Error()).To(ContainSubstring(want))
		},
		Entry("timeout below 60 s", func(s *v1alpha1.BrowserSessionSpec) { s.Timeout = ptr.To[int32](59) },
			"spec.timeout: Invalid value: 59: spec.timeout in body should be greater than or equal to 60"),
		Entry("timeout above 6 h", func(s *v1alpha1.BrowserSessionSpec) { s.Timeout = ptr.To[int32](21601) },
			"spec.timeout in body should be less than or equal to 21600"),
		Entry("unknown region", func(s *v1alpha1.BrowserSessionSpec) { s.Region = "mars-1" },
			`spec.region: Unsupported value: "mars-1"`),
		Entry("the reserved metadata key", func(s *v1alpha1.BrowserSessionSpec) { s.Metadata = map[string]string{"k8s": "x"} },
			"metadata key 'k8s' is reserved"),
		Entry("metadata too large", func(s *v1alpha1.BrowserSessionSpec) {
			s.Metadata = map[string]string{}
			for i := range 4 {
				s.Metadata[fmt.Sprintf("key%d", i)] = strings.Repeat("v", 100)
			}
		}, "spec.metadata is too large"),
		Entry("a metadata value over 256 characters", func(s *v1alpha1.BrowserSessionSpec) {
			s.Metadata = map[string]string{"a": strings.Repeat("v", 257)}
		}, "metadata values must be at most 256 characters long"),
		Entry("an external proxy without server", func(s *v1alpha1.BrowserSessionSpec) {
			s.Proxies = []v1alpha1.Proxy{{Type: "external", Username: "me"}}
		}, "server is required when type is external"),
		Entry("a server on a browserbase proxy", func(s *v1alpha1.BrowserSessionSpec) {
			s.Proxies = []v1alpha1.Proxy{{Type: "browserbase", Server: "http://proxy:8080"}}
		}, "server, username and passwordSecretRef are only allowed when type is external"),
		Entry("geolocation on a none proxy", func(s *v1alpha1.BrowserSessionSpec) {
			s.Proxies = []v1alpha1.Proxy{{Type: "none", Geolocation: &v1alpha1.ProxyGeolocation{Country: "US"}}}
		}, "geolocation is only allowed when type is browserbase"),
		Entry("a three-letter country", func(s *v1alpha1.BrowserSessionSpec) {
			s.Proxies = []v1alpha1.Proxy{{Type: "browserbase", Geolocation: &v1alpha1.ProxyGeolocation{Country: "USA"}}}
		}, "spec.proxies[0].geolocation.country"),
		Entry("an unknown proxy type", func(s *v1alpha1.BrowserSessionSpec) { s.Proxies = []v1alpha1.Proxy{{Type: "tor"}} },
			`spec.proxies[0].type: Unsupported value: "tor"`),
		Entry("an unknown os", func(s *v1alpha1.BrowserSessionSpec) {
			s.BrowserSettings = &v1alpha1.BrowserSettings{OS: "beos"}
		}, `spec.browserSettings.os: Unsupported value: "beos"`),
		Entry("an unknown deletion policy", func(s *v1alpha1.BrowserSessionSpec) { s.DeletionPolicy = "Keep" },
			`spec.deletionPolicy: Unsupported value: "Keep"`),
		Entry("a Secret name that is not a DNS name", func(s *v1alpha1.BrowserSessionSpec) { s.SecretName = "Bad_Name" },
			"spec.secretName in body should match"),
		Entry("an API key Secret without a name", func(s *v1alpha1.BrowserSessionSpec) {
			s.APIKeySecretRef = &v1alpha1.APIKeySecretReference{}
		}, "spec.apiKeySecretRef.name"),
	)

	It("refuses any change to the spec", func(ctx SpecContext) {
		bs := newSession(ctx, "frozen", func(bs *v1alpha1.BrowserSession) { bs.Spec.Timeout = ptr.To[int32](300) })
		Eventually(func(g Gomega) {
			got := fetch(ctx, bs)(g)
			got.Spec.Timeout = ptr.To[int32](600)
			err := k8sClient.Update(ctx, got)
			g.Expect(apierrors.IsConflict(err)).To(BeFalse())
			g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
			g.Expect(err.Error()).To(ContainSubstring("spec is immutable"))
			g.Expect(err.Error()).To(ContainSubstring("delete this BrowserSession and create a new one"))
		}).Should(Succeed())
	})

	It("lets deletionPolicy change, and honours the new policy on delete", func(ctx SpecContext) {
		bs := newSession(ctx, "switch-to-orphan", nil)
		got := waitForCondition(ctx, bs, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonSessionRunning)
		Eventually(func(g Gomega) {
			current := fetch(ctx, bs)(g)
			current.Spec.DeletionPolicy = v1alpha1.DeletionPolicyOrphan
			g.Expect(k8sClient.Update(ctx, current)).To(Succeed())
		}).Should(Succeed())
		// The operator has seen the new generation before the delete.
		Eventually(func(g Gomega) {
			current := fetch(ctx, bs)(g)
			g.Expect(current.Status.ObservedGeneration).To(Equal(current.Generation))
		}).Should(Succeed())
		Expect(k8sClient.Delete(ctx, bs)).To(Succeed())
		expectLeftRunning(ctx, bs, got.Status.ID, "orphaned, not released")
	})

	It("refuses a name whose default Secret name would be too long, before any session is made", func(ctx SpecContext) {
		long := strings.Repeat("a", 242)
		err := k8sClient.Create(ctx, &v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: long}})
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring("set spec.secretName"))

		bs := &v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: long}}
		bs.Spec.SecretName = "long-name-credentials"
		Expect(k8sClient.Create(ctx, bs)).To(Succeed(), "with spec.secretName the name fits")
		Expect(k8sClient.Delete(ctx, bs)).To(Succeed())
		Expect(k8sClient.Create(ctx, &v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: long[:241]}})).To(Succeed())
	})
	It("renews before expiry: Ready throughout, one successor in the Secret, the predecessor released after its overlap, restart targets restarted", func(ctx SpecContext) {
		reader := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "reader", Annotations: map[string]string{v1alpha1.AnnotationRestartOnRenewal: "renewing"}},
			Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "reader"}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "reader"}},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "reader", Image: "busybox"}}},
				},
			},
		}
		Expect(k8sClient.Create(ctx, reader)).To(Succeed())
		bs := newSession(ctx, "renewing", func(bs *v1alpha1.BrowserSession) {
			bs.Spec.Timeout = ptr.To[int32](3600)
			bs.Spec.Renewal = &v1alpha1.Renewal{
				Policy:         v1alpha1.RenewalBeforeExpiry,
				RenewBefore:    &metav1.Duration{Duration: 3580 * time.Second}, // due 20 s after the start
				Overlap:        &metav1.Duration{Duration: 2 * time.Second},
				RestartTargets: []v1alpha1.RestartTarget{{Kind: "Deployment", Name: "reader"}},
			}
		})
		first := waitForCondition(ctx, bs, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonSessionRunning)
		Expect(first.Status.Revision).To(BeEquivalentTo(1))
		Expect(first.Status.RenewalTime).NotTo(BeNil())
		// renewBefore before expiry, spread later by at most the jitter.
		Expect(first.Status.RenewalTime.Time).To(BeTemporally(">=", first.Status.ExpiresAt.Add(-3580*time.Second).Add(-time.Second)))
		Expect(first.Status.RenewalTime.Time).To(BeTemporally("<=", first.Status.ExpiresAt.Add(-3580*time.Second).Add(maxJitter+time.Second)))

		By("watching every observation until the successor is current and the predecessor released")
		var got *v1alpha1.BrowserSession
		Eventually(func(g Gomega) {
			got = fetch(ctx, bs)(g)
			Expect(meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionReady)).To(BeTrue(), "Ready during the rotation: %+v", got.Status)
			g.Expect(got.Status.Revision).To(BeEquivalentTo(2))
			g.Expect(got.Status.PreviousID).To(BeEmpty())
		}, time.Minute, 50*time.Millisecond).Should(Succeed())
		Expect(got.Status.ID).NotTo(Equal(first.Status.ID))
		Expect(got.Status.LastRotationTime).NotTo(BeNil())

		predecessor, _ := emu.Session(first.Status.ID)
		Expect(predecessor.Status).To(Equal("COMPLETED"), "the predecessor is released")
		secret := &corev1.Secret{}
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: got.Status.SecretName}, secret)).To(Succeed())
		Expect(string(secret.Data["sessionId"])).To(Equal(got.Status.ID))
		Expect(secret.Data["connectUrl"]).NotTo(BeEmpty())
		Expect(secret.Annotations).To(HaveKeyWithValue(v1alpha1.AnnotationSessionRevision, "2"))
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(reader), reader)).To(Succeed())
			g.Expect(reader.Spec.Template.Annotations).To(HaveKeyWithValue(v1alpha1.AnnotationSessionRevision, "2"))
		}).Should(Succeed())
		Expect(sessionsOf(ctx, bs)).To(HaveLen(2), "one successor, no more")
		deleteAndWait(ctx, bs)
	})

	It("renews a session that ended under policy OnEnd", func(ctx SpecContext) {
		bs := newSession(ctx, "on-end", func(bs *v1alpha1.BrowserSession) {
			bs.Spec.Timeout = ptr.To[int32](60)
			bs.Spec.Renewal = &v1alpha1.Renewal{Policy: v1alpha1.RenewalOnEnd}
		})
		first := waitForCondition(ctx, bs, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonSessionRunning)
		Expect(first.Status.RenewalTime).To(BeNil())
		Expect(emu.ExpireSession(first.Status.ID)).To(BeTrue())
		Eventually(func(g Gomega) {
			got := fetch(ctx, bs)(g)
			g.Expect(got.Status.ID).NotTo(Equal(first.Status.ID))
			g.Expect(got.Status.Revision).To(BeEquivalentTo(2))
			g.Expect(meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionReady)).To(BeTrue())
		}).Should(Succeed())
		Expect(sessionsOf(ctx, bs)).To(HaveLen(2))
		deleteAndWait(ctx, bs)
	})

	It("refuses a renewBefore that leaves the session no useful life", func(ctx SpecContext) {
		bs := &v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "too-early"}}
		bs.Spec.Timeout = ptr.To[int32](60)
		bs.Spec.Renewal = &v1alpha1.Renewal{Policy: v1alpha1.RenewalBeforeExpiry, RenewBefore: &metav1.Duration{Duration: 45 * time.Second}}
		err := k8sClient.Create(ctx, bs)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring("at most timeout minus 20s"))

		bs.Spec.Renewal = &v1alpha1.Renewal{Policy: v1alpha1.RenewalOnEnd, RenewBefore: &metav1.Duration{Duration: time.Minute}}
		err = k8sClient.Create(ctx, bs)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring("renewBefore only applies to policy BeforeExpiry"))
	})

	It("loads a BrowserContext by name once it is Ready, and renews a persisting session only after its predecessor ended", func(ctx SpecContext) {
		bs := newSession(ctx, "with-context", func(bs *v1alpha1.BrowserSession) {
			bs.Spec.Timeout = ptr.To[int32](3600)
			bs.Spec.BrowserSettings = &v1alpha1.BrowserSettings{Context: &v1alpha1.ContextReference{Name: "profile", Persist: ptr.To(true)}}
			bs.Spec.Renewal = &v1alpha1.Renewal{
				Policy:      v1alpha1.RenewalBeforeExpiry,
				RenewBefore: &metav1.Duration{Duration: 3580 * time.Second}, // due 20 s after the start
				Overlap:     &metav1.Duration{Duration: 2 * time.Second},
			}
		})
		waiting := waitForCondition(ctx, bs, v1alpha1.ConditionReconciling, metav1.ConditionTrue, v1alpha1.ReasonContextNotReady)
		Expect(condition(waiting, v1alpha1.ConditionStalled)).To(BeNil(), "a missing context is waited for, not a stall")
		Expect(sessionsOf(ctx, bs)).To(BeEmpty())

		By("making the BrowserContext Ready, as its controller leaves it")
		Expect(k8sClient.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "profile-browserbase-context"},
			StringData: map[string]string{v1alpha1.ContextIDSecretKey: "ctx-profile-1"},
		})).To(Succeed())
		bc := &v1alpha1.BrowserContext{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "profile"}}
		Expect(k8sClient.Create(ctx, bc)).To(Succeed())
		bc.Status = v1alpha1.BrowserContextStatus{
			ObservedGeneration: bc.Generation, SecretName: "profile-browserbase-context",
			Conditions: []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "ContextReady", LastTransitionTime: metav1.Now()}},
		}
		Expect(k8sClient.Status().Update(ctx, bc)).To(Succeed())

		first := waitForCondition(ctx, bs, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonSessionRunning)
		sess, _ := emu.Session(first.Status.ID)
		Expect(sess.ContextID).To(Equal("ctx-profile-1"))
		Expect(sess.PersistsContext).To(BeTrue())
		statusJSON, err := json.Marshal(first.Status)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(statusJSON)).NotTo(ContainSubstring("ctx-profile-1"), "the context id stays out of status")

		By("renewing: the predecessor ends, then its successor loads the saved context")
		Eventually(func(g Gomega) {
			got := fetch(ctx, bs)(g)
			g.Expect(got.Status.Revision).To(BeEquivalentTo(2))
			g.Expect(meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionReady)).To(BeTrue())
		}, 90*time.Second).Should(Succeed())
		predecessor, _ := emu.Session(first.Status.ID)
		successor, _ := emu.Session(fetch(ctx, bs)(Default).Status.ID)
		Expect(predecessor.EndedAt).NotTo(BeNil())
		Expect(successor.CreatedAt).To(BeTemporally(">=", predecessor.EndedAt.Add(4*time.Second)), "the successor waits for the saved state")
		Expect(successor.ContextID).To(Equal("ctx-profile-1"))
		for _, s := range sessionsOf(ctx, bs) {
			Expect(s.SharedContext).To(BeFalse(), "two sessions persisted into the context at once")
		}
		deleteAndWait(ctx, bs)
	})

	It("lets spec.renewal change after creation", func(ctx SpecContext) {
		bs := newSession(ctx, "renewal-later", nil)
		waitForCondition(ctx, bs, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonSessionRunning)
		Eventually(func(g Gomega) {
			current := fetch(ctx, bs)(g)
			current.Spec.Renewal = &v1alpha1.Renewal{Policy: v1alpha1.RenewalBeforeExpiry}
			g.Expect(k8sClient.Update(ctx, current)).To(Succeed())
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(fetch(ctx, bs)(g).Status.RenewalTime).NotTo(BeNil())
		}).Should(Succeed())
	})
})

// deleteAndWait deletes a resource and waits until it is gone, its sessions released: a
// renewing resource left behind would go on making sessions after its spec.
func deleteAndWait(ctx context.Context, bs *v1alpha1.BrowserSession) {
	GinkgoHelper()
	Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, bs))).To(Succeed())
	Eventually(func() bool {
		return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(bs), &v1alpha1.BrowserSession{}))
	}).Should(BeTrue())
}
