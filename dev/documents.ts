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
