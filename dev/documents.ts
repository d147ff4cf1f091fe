// GraphQL documents shared by the tests and the bench, typed by codegen (npm run codegen).
import { graphql } from '../src/generated/graphql/index.ts';

export const IVY = graphql(`
  subscription Ivy($input: IvyCompletionInput!) {
    ivyCompletion(input: $input) {
      __typename
      ... on IvyCompletionStarted {
        index
        requestId
        provider
        model
        billing
        fallbackReason
      }
      ... on IvyTextDelta {
        index
        text
      }
      ... on IvyCompletionFinished {
        index
        finishReason
        inputTokens
        outputTokens
        creditsCharged
        creditBalance
      }
      ... on IvyCompletionFailed {
        index
        code
        message
        creditsCharged
        creditBalance
      }
    }
  }
`);

export const STOP_IVY = graphql(`
  mutation StopIvy($input: StopIvyCompletionInput!) {
    stopIvyCompletion(input: $input) {
      requestId
      stopping
    }
  }
`);

/** A member's own key: save, test, delete (every role may; the key itself never comes back). */
export const SET_PERSONAL_KEY = graphql(`
  mutation SetPersonalKey($input: SetPersonalKeyInput!) {
    setPersonalKey(input: $input) {
      provider
      hint
      status
      lastTestedAt
      updatedAt
    }
  }
`);

export const TEST_PERSONAL_KEY = graphql(`
  mutation TestPersonalKey($input: TestPersonalKeyInput!) {
    testPersonalKey(input: $input) {
      ok
      status
      message
    }
  }
`);

export const DELETE_PERSONAL_KEY = graphql(`
  mutation DeletePersonalKey($input: DeletePersonalKeyInput!) {
    deletePersonalKey(input: $input)
  }
`);

/** The org's audit log (org:manage): what happened, who did it, and its detail. */
export const AUDIT_LOG = graphql(`
  query AuditLog($orgId: ID!) {
    auditLog(orgId: $orgId) {
      edges {
        node {
          action
          actorId
          detail
        }
      }
    }
  }
`);

// The bench's org-scale rows (bench/scale.ts): the Settings page's query and subscription, and the change that
// fans out to every subscriber.
export const SCALE_SETTINGS = graphql(`
  query ScaleSettings($orgId: ID!) {
    orgAiSettings(orgId: $orgId) {
      orgId
      provider
      effectiveProvider
      viewerCanManage
      viewerKeys {
        provider
        hint
        status
      }
    }
  }
`);

export const SCALE_SETTINGS_WATCH = graphql(`
  subscription ScaleSettingsWatch($orgId: ID!) {
    orgAiSettingsChanged(orgId: $orgId) {
      orgId
      provider
      effectiveProvider
      viewerCanManage
      viewerKeys {
        provider
        hint
        status
      }
    }
  }
`);

export const SCALE_UPDATE_PROVIDER = graphql(`
  mutation ScaleUpdateProvider($input: UpdateProviderInput!) {
    updateProvider(input: $input) {
      provider
    }
  }
`);
