// GraphQL documents shared by the tests and the bench, typed by codegen (npm run codegen).
import { graphql } from '../src/generated/graphql/index.ts';

export const IVY = graphql(`
  subscription Ivy($input: IvyCompletionInput!) {
    ivyCompletion(input: $input) {
      __typename
      ... on IvyCompletionStarted {
        requestId
        provider
        model
        billing
        fallbackReason
      }
      ... on IvyTextDelta {
        text
      }
      ... on IvyCompletionFinished {
        inputTokens
        outputTokens
        creditsCharged
        creditBalance
      }
      ... on IvyCompletionFailed {
        code
        message
        creditsCharged
        creditBalance
      }
    }
  }
`);
